"""``ecs-facade run --namespace`` patterns, matched by kopf's rules (kopf watches the ECS
kinds' create/update/delete with the same patterns; the informers must watch the same
namespaces).

A pattern is comma-separated globs (``*``, ``?``, ``[...]``; spaces around them ignored);
a glob starting with ``!`` excludes. The first inclusive glob makes the first match; an
exclusion un-matches; a later inclusive glob matches again only a namespace the first glob
matched. A pattern starting with an exclusion starts with an implied ``*``. So
``"myapp-*, !*-pr-*, *pr-123"`` matches ``myapp-live`` and ``myapp-pr-123``, not
``myapp-pr-456`` nor ``otherapp-pr-123``.
"""

import fnmatch
from collections.abc import Sequence


def match_namespace(name: str, pattern: str) -> bool:
    """Whether the namespace ``name`` matches one ``--namespace`` pattern (kopf's rules,
    case-sensitive as kopf's fnmatch is on Linux)."""
    globs = [glob.strip() for glob in pattern.split(",")]
    if globs[0].startswith("!"):
        globs.insert(0, "*")
    matches = first_match = fnmatch.fnmatchcase(name, globs[0])
    for glob in globs[1:]:
        if glob.startswith("!"):
            matches = matches and not fnmatch.fnmatchcase(name, glob.lstrip("!"))
        else:
            matches = matches or (first_match and fnmatch.fnmatchcase(name, glob))
    return matches


def wanted(patterns: Sequence[str], namespace: str) -> bool:
    """The namespace is one of those watched: any pattern matches it (no pattern: every
    namespace is watched)."""
    return not patterns or any(match_namespace(namespace, pattern) for pattern in patterns)
