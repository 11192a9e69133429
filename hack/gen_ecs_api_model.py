"""Write the trimmed ECS and Application Auto Scaling service models the API server reads.

`ecs-facade api` validates requests against the same botocore model the CRDs come from
(hack/gen_crds.py), but botocore is a development dependency only: the operator image must
not need it. This writes what request validation and error mapping need, and nothing else
(no documentation, no endpoints), as JSON inside the package:

    operator/ecs_facade/ecsapi/models/ecs.json
    operator/ecs_facade/ecsapi/models/application-autoscaling.json

Usage: python hack/gen_ecs_api_model.py [--check]
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import botocore  # type: ignore[import-untyped]
import botocore.loaders  # type: ignore[import-untyped]

REPO = Path(__file__).resolve().parent.parent
MODELS_DIR = REPO / "operator" / "ecs_facade" / "ecsapi" / "models"
SERVICES = {"ecs": "ecs.json", "application-autoscaling": "application-autoscaling.json"}

METADATA_KEYS = ("apiVersion", "jsonVersion", "protocol", "serviceId", "signingName", "targetPrefix")
# Shape keys that matter on the wire: types, members, constraints botocore knows, error traits.
# `pattern` is left out: ECS documents its patterns loosely and botocore does not check them either.
SHAPE_KEYS = ("type", "required", "enum", "min", "max", "member", "key", "value", "document", "union")
ERROR_KEYS = ("exception", "fault", "error")


def _ref(ref: Mapping[str, Any]) -> dict[str, Any]:
    """A member/list/map reference: only its target shape."""
    return {"shape": ref["shape"]}


def trim_shape(shape: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in SHAPE_KEYS + ERROR_KEYS:
        if key not in shape:
            continue
        value = shape[key]
        if key in ("member", "key", "value"):
            value = _ref(value)
        elif key == "error":  # httpStatusCode and code, when a model gives them
            value = {k: value[k] for k in ("code", "httpStatusCode", "senderFault") if k in value}
        out[key] = value
    if "members" in shape:
        out["members"] = {name: _ref(ref) for name, ref in shape["members"].items()}
    return out


def trim_model(model: Mapping[str, Any], paginators: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The parts of a botocore service-2 model the API server uses; with its paginators-1
    model, each paginated operation's tokens, page size and result members (botocore's keys)."""
    pages = (paginators or {}).get("pagination", {})
    operations = {
        name: {
            "input": op["input"]["shape"] if "input" in op else None,
            "output": op["output"]["shape"] if "output" in op else None,
            "errors": [e["shape"] for e in op.get("errors", [])],
            **({"pagination": dict(pages[name])} if name in pages else {}),
        }
        for name, op in model["operations"].items()
    }
    return {
        "source": f"botocore {botocore.__version__}",
        "metadata": {k: model["metadata"][k] for k in METADATA_KEYS if k in model["metadata"]},
        "operations": operations,
        "shapes": {name: trim_shape(shape) for name, shape in model["shapes"].items()},
    }


def generate() -> dict[Path, str]:
    loader = botocore.loaders.Loader()
    files = {}
    for service, filename in SERVICES.items():
        paginators = loader.load_service_model(service, "paginators-1")
        model = trim_model(loader.load_service_model(service, "service-2"), paginators)
        files[MODELS_DIR / filename] = json.dumps(model, indent=1, sort_keys=True) + "\n"
    return files


def stale(files: Mapping[Path, str]) -> list[str]:
    """One message per committed file that differs from what this generator writes."""
    problems = []
    for path, text in files.items():
        current = path.read_text() if path.exists() else ""
        if current == text:
            continue
        diff = difflib.unified_diff(current.splitlines(), text.splitlines(), "committed", "generated", lineterm="")
        shown = "\n".join(list(diff)[:30])
        rel = path.relative_to(REPO) if path.is_relative_to(REPO) else path
        problems.append(
            f"{rel} is stale: it is not what hack/gen_ecs_api_model.py writes from botocore"
            f" {botocore.__version__}. Run `make generate` and commit the result.\n{shown}"
        )
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if a file is stale")
    args = parser.parse_args(argv)
    files = generate()
    if args.check:
        problems = stale(files)
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
