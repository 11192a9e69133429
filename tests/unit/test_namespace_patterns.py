"""``--namespace`` patterns: the operator's informers watch the namespaces kopf does."""

import pytest

from ecs_facade.controllers.namespace_patterns import match_namespace, wanted

CASES = [
    # (namespace, pattern, matches)
    ("team-a", "team-a", True),
    ("team-b", "team-a", False),
    ("team-a", "team-*", True),
    ("team-ab", "team-?", False),
    ("team-a", "team-?", True),
    ("team-a", "team-[ab]", True),
    ("team-c", "team-[ab]", False),
    ("Team-a", "team-*", False),  # case-sensitive, as namespace names are lowercase anyway
    ("team-a", " team-* , !team-x ", True),  # spaces around the globs are ignored
    ("team-x", "team-*, !team-x", False),
    ("other", "!team-*", True),  # a first exclusion implies a catch-all before it
    ("team-a", "!team-*", False),
    # kopf's own examples: an inclusion after an exclusion matches again only what the first glob did
    ("myapp-test", "myapp-*, !*-pr-*, *pr-123", True),
    ("myapp-pr-123", "myapp-*, !*-pr-*, *pr-123", True),
    ("myapp-pr-456", "myapp-*, !*-pr-*, *pr-123", False),
    ("otherapp-pr-123", "myapp-*, !*-pr-*, *pr-123", False),
    ("otherapp-pr-123", "!*-pr-*, *pr-123", True),
    ("myapp-pr-456", "!*-pr-*, *pr-123", False),
    ("anyapp-anything", "!*-pr-*, *pr-123", True),
    ("team-a", "!!team-a", False),  # every leading "!" is one exclusion
    ("", "team-a", False),
]


@pytest.mark.parametrize(("namespace", "pattern", "matches"), CASES)
def test_a_namespace_matches_a_pattern_by_kopfs_rules(namespace: str, pattern: str, matches: bool) -> None:
    assert match_namespace(namespace, pattern) is matches


@pytest.mark.parametrize(("namespace", "pattern", "matches"), CASES)
def test_the_rules_are_those_of_the_installed_kopf(namespace: str, pattern: str, matches: bool) -> None:
    """kopf watches its kinds with its own matcher: if an upgrade changes its rules, this says so."""
    references = pytest.importorskip("kopf._cogs.structs.references")
    assert references.match_namespace(references.NamespaceName(namespace), pattern) is matches


def test_any_pattern_of_several_will_do_and_none_means_every_namespace() -> None:
    assert wanted((), "anything")
    assert wanted(("team-a", "team-b"), "team-b")
    assert not wanted(("team-a", "team-b"), "team-c")
    assert wanted(("team-*, !team-x", "team-x"), "team-x")
