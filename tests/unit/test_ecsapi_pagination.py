import pytest

from ecs_facade.ecsapi.errors import EcsError
from ecs_facade.ecsapi.pagination import encode_token, page


def _key(name: str) -> tuple[str]:
    return (name,)


def test_pages_walk_every_item_once() -> None:
    items = [f"c{i:02}" for i in range(7)]
    seen, token, pages = [], None, 0
    while True:
        chosen, token = page(items, _key, action="ListClusters", max_results=3, next_token=token)
        seen += chosen
        pages += 1
        if token is None:
            break
    assert seen == items and pages == 3


def test_items_created_or_deleted_between_pages_shift_nothing() -> None:
    first, token = page(["a", "b", "c", "d"], _key, action="ListClusters", max_results=2, next_token=None)
    assert first == ["a", "b"]
    # "b" deleted and "a2" created meanwhile: the next page starts after "b" all the same
    second, token = page(["a", "a2", "c", "d"], _key, action="ListClusters", max_results=2, next_token=token)
    assert second == ["c", "d"] and token is None


def test_descending_order() -> None:
    items = [("web", 3), ("web", 2), ("web", 1)]
    chosen, token = page(items, lambda i: i, action="L", max_results=2, next_token=None, descending=True)
    assert chosen == [("web", 3), ("web", 2)]
    rest, token = page(items, lambda i: i, action="L", max_results=2, next_token=token, descending=True)
    assert rest == [("web", 1)] and token is None


def test_default_is_100_and_no_token_on_the_last_page() -> None:
    items = [f"c{i:03}" for i in range(100)]
    assert page(items, _key, action="L", max_results=None, next_token=None) == (items, None)
    chosen, token = page([*items, "z"], _key, action="L", max_results=None, next_token=None)
    assert len(chosen) == 100 and token


@pytest.mark.parametrize("bad", [0, 101, -1, True])
def test_max_results_out_of_range(bad: int) -> None:
    with pytest.raises(EcsError) as caught:
        page(["a"], _key, action="L", max_results=bad, next_token=None)
    assert caught.value.name == "InvalidParameterException" and "maxResults" in caught.value.message


@pytest.mark.parametrize("token", ["garbage!", "e30", encode_token("ListServices", ("a",))])
def test_foreign_tokens_refused(token: str) -> None:
    with pytest.raises(EcsError) as caught:
        page(["a", "b"], _key, action="ListClusters", max_results=1, next_token=token)
    assert caught.value.name == "InvalidParameterException" and "nextToken" in caught.value.message
