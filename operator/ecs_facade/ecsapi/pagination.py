"""``maxResults``/``nextToken`` as ECS pages its List actions.

The token is opaque to clients but says where the last page ended by the last item's sort
key (not by an offset), so a page never repeats or skips an item because others were created
or deleted between two calls; it also names the action, so a token of another List action is
refused instead of misread."""

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from ecs_facade.ecsapi.errors import invalid_parameter

T = TypeVar("T")
Key = tuple[str | int, ...]

DEFAULT_MAX_RESULTS = 100
MAX_RESULTS_LIMIT = 100


def encode_token(action: str, key: Key) -> str:
    raw = json.dumps({"a": action, "k": list(key)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(action: str, token: str) -> Key:
    """The key the page of ``token`` ended with; InvalidParameterException for anything else."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        body = json.loads(raw)
        key = body["k"]
        if body.get("a") != action or not isinstance(key, list):
            raise ValueError(action)
        if not all(isinstance(part, str | int) and not isinstance(part, bool) for part in key):
            raise ValueError(action)
    except (ValueError, KeyError, TypeError, binascii.Error, RecursionError):  # deep JSON: RecursionError
        message = f"nextToken: not a token that {action} returned; give the nextToken of its last answer"
        raise invalid_parameter(message) from None
    return tuple(key)


def page(
    items: Sequence[T],
    key: Callable[[T], Key],
    *,
    action: str,
    max_results: int | None,
    next_token: str | None,
    descending: bool = False,
) -> tuple[list[T], str | None]:
    """One page of ``items`` (already in their order: ascending by ``key``, or descending),
    and the token of the next page (None on the last)."""
    if max_results is None:
        limit = DEFAULT_MAX_RESULTS
    elif isinstance(max_results, bool) or not isinstance(max_results, int) or not 1 <= max_results <= MAX_RESULTS_LIMIT:
        raise invalid_parameter(f"maxResults: {max_results!r} is out of range; expected 1 to {MAX_RESULTS_LIMIT}")
    else:
        limit = max_results
    rest = list(items)
    if next_token:
        after = decode_token(action, next_token)
        try:
            rest = [item for item in rest if (key(item) < after if descending else key(item) > after)]
        except TypeError:  # a key of other types than this action's: not its token
            raise invalid_parameter(f"nextToken: not a token that {action} returned") from None
    chosen = rest[:limit]
    token = encode_token(action, key(chosen[-1])) if len(rest) > limit else None
    return chosen, token


def paged_answer(
    request: Mapping[str, Any],
    items: Sequence[T],
    key: Callable[[T], Key],
    show: Callable[[T], Any],
    *,
    action: str,
    member: str,
    descending: bool = False,
) -> dict[str, Any]:
    """The answer of an ECS List action: the page of ``items`` the request's ``maxResults`` and
    ``nextToken`` ask for, each ``show``n, as ``member``, and ``nextToken`` unless it is the last."""
    chosen, token = page(
        items,
        key,
        action=action,
        max_results=request.get("maxResults"),
        next_token=request.get("nextToken"),
        descending=descending,
    )
    response: dict[str, Any] = {member: [show(item) for item in chosen]}
    if token:
        response["nextToken"] = token
    return response
