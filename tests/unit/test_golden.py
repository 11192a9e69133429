"""Whole task definitions from the corpus, rendered, against reviewed golden files.

A change in translation shows up as a diff of tests/golden/*.yaml; regenerate with
``UPDATE_GOLDEN=1 pytest tests/unit/test_golden.py`` and review the diff before committing.
"""

import json
import os
from pathlib import Path

import pytest
import yaml

from ecs_facade.model.taskdefinition import parse_task_definition
from ecs_facade.translate.task import build_task_pod
from ecs_facade.translate.taskdefinition import TranslationOptions

TESTS = Path(__file__).resolve().parents[1]
CORPUS = sorted((TESTS / "corpus" / "valid").glob("*.json"))


def render(path: Path) -> str:
    raw = json.loads(path.read_text(encoding="utf-8-sig"))  # 36 starts with a byte order mark
    inner = raw.get("taskDefinition", raw)
    task_definition = parse_task_definition(raw, inner.get("family") or path.stem)
    pod, translation = build_task_pod(task_definition, revision=1, options=TranslationOptions(allow_host_path=True))
    document = {
        "source": f"tests/corpus/valid/{path.name}",
        "ignored": translation.ignored,
        "approximated": translation.notes,
        "objects": [*translation.service_accounts, pod],
    }
    return yaml.safe_dump(document, sort_keys=False, width=120)


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 25


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_rendering_matches_golden_file(path: Path) -> None:
    golden = TESTS / "golden" / f"{path.stem}.yaml"
    rendered = render(path)
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(rendered)
    assert golden.exists(), f"no golden file {golden.name}: run with UPDATE_GOLDEN=1 and review it"
    assert rendered == golden.read_text()


def test_corpus_families_are_unique() -> None:
    """The e2e corpus test registers every file in one namespace: a shared family would be
    another revision of the same family, not revision 1 of its own."""
    families = []
    for path in CORPUS:
        raw = json.loads(path.read_text(encoding="utf-8-sig"))
        families.append(raw.get("taskDefinition", raw)["family"])
    assert sorted(f for f in set(families) if families.count(f) > 1) == []
