"""The lock files hold what pyproject.toml asks for, in the only form the installs accept.

`make venv` (so CI) and the Dockerfile install with `pip install --require-hashes`, which
refuses a line without an exact pin and hashes; a dependency added to pyproject.toml but not
locked, or a range that excludes the locked version, would otherwise show only as a failed
install or a `pip check` error. A failure here means: run `make lock`, review and commit the
lock files (docs/development.md)."""

import os
import re
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
RUNTIME, DEV, BUILD = "requirements.lock", "requirements-dev.lock", "requirements-build.lock"
# how uv's annotation names a dependency that pyproject.toml asks for itself
FROM_PYPROJECT = "ecs-facade (pyproject.toml)"

# Where the operator and its tests run: the image (python:3.12-slim, amd64 and arm64), CI and
# the team machines (Debian's Python 3.11), and the newest Python the project accepts.
PLATFORMS: list[dict[str, str]] = [
    {
        "python_version": python,
        "python_full_version": f"{python}.0",
        "platform_machine": machine,
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }
    for python in ("3.11", "3.12", "3.13")
    for machine in ("x86_64", "aarch64")
]

PIN = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)\s*(?:;\s*(?P<marker>[^\\]+?))?\s*")
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


@dataclass
class Locked:
    """One package of a lock file: its exact version, the platforms it is for, its hashes."""

    name: str
    version: str
    marker: Marker | None
    hashes: list[str] = field(default_factory=list)
    via: list[str] = field(default_factory=list)


def parse_lock(text: str) -> dict[str, Locked]:
    """The packages of a lock file by canonical name; ValueError for any line that
    `pip install --require-hashes` would refuse or that is not a pin or a hash."""
    locked: dict[str, Locked] = {}
    current: Locked | None = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            comment = stripped.lstrip("#").strip()
            if current is not None and line[0].isspace():  # the package's `# via` annotation
                comment = comment.removeprefix("via").strip() if comment.startswith("via") else comment
                if comment:
                    current.via.append(comment)
            continue
        if line[0].isspace():
            if current is None or not HASH.fullmatch(stripped.removesuffix("\\").strip()):
                raise ValueError(f"line {number}: {stripped!r}: expected `--hash=sha256:<64 hex>` under a pin")
            current.hashes.append(stripped.removesuffix("\\").strip())
            continue
        match = PIN.fullmatch(stripped.removesuffix("\\"))
        if not match:
            raise ValueError(f"line {number}: {stripped!r}: expected `name==version` with hashes")
        Version(match["version"])  # InvalidVersion (a ValueError) for anything else
        name = canonicalize_name(match["name"])
        if name in locked:
            raise ValueError(f"line {number}: {name} is locked twice")
        marker = Marker(match["marker"]) if match["marker"] else None
        current = locked[name] = Locked(name, match["version"], marker)
    for package in locked.values():
        if not package.hashes:
            raise ValueError(f"{package.name}=={package.version}: no hashes (`make lock` writes them)")
    return locked


def disagreements(requirements: list[str], lock: dict[str, Locked], lock_name: str) -> list[str]:
    """What is wrong between pyproject.toml's requirements and one lock file, one line each:
    a requirement not locked, locked at a version outside its range, or not for every platform
    the operator runs on; a package locked as a direct dependency that pyproject.toml no longer
    asks for."""
    problems: list[str] = []
    wanted = {canonicalize_name(Requirement(text).name): Requirement(text) for text in requirements}
    for name, requirement in wanted.items():
        package = lock.get(name)
        if package is None:
            problems.append(f"{lock_name}: {requirement} is not locked")
            continue
        if not requirement.specifier.contains(package.version, prereleases=True):
            problems.append(f"{lock_name}: {name}=={package.version} is outside {requirement}")
        for env in PLATFORMS:
            if requirement.marker is not None and not requirement.marker.evaluate(env):
                continue
            if package.marker is not None and not package.marker.evaluate(env):
                problems.append(
                    f"{lock_name}: {name} is locked only for `{package.marker}`, "
                    f"not for Python {env['python_version']} on {env['platform_machine']}"
                )
                break
    for locked_name, package in lock.items():
        if FROM_PYPROJECT in package.via and locked_name not in wanted:
            problems.append(
                f"{lock_name}: {locked_name} is locked as a dependency of pyproject.toml, which no longer has it"
            )
    return problems


def pyproject() -> dict[str, Any]:
    with (REPO / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)


def lock(name: str) -> dict[str, Locked]:
    return parse_lock((REPO / name).read_text())


def test_every_lock_line_is_a_pin_with_hashes() -> None:
    for name in (RUNTIME, DEV, BUILD):
        packages = lock(name)  # raises on an unpinned, hashless or foreign line
        assert packages, name


def test_the_runtime_lock_holds_the_operators_dependencies() -> None:
    assert disagreements(pyproject()["project"]["dependencies"], lock(RUNTIME), RUNTIME) == []


def test_the_dev_lock_holds_the_dependencies_and_the_dev_extra() -> None:
    project = pyproject()["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["dev"]
    assert disagreements(requirements, lock(DEV), DEV) == []


def test_the_build_lock_holds_pip_and_the_build_backend() -> None:
    build, requirements = lock(BUILD), ["pip", *pyproject()["build-system"]["requires"]]
    assert disagreements(requirements, build, BUILD) == []
    # setuptools needs nothing else: a package more is one pyproject.toml no longer asks for
    assert set(build) == {canonicalize_name(Requirement(text).name) for text in requirements}


def test_ci_tests_the_versions_the_image_runs() -> None:
    """requirements-dev.lock is compiled with requirements.lock as constraints: every runtime
    package at the same version, for the same platforms, with the same files."""
    runtime, dev = lock(RUNTIME), lock(DEV)
    for name, package in runtime.items():
        assert name in dev, name
        assert (dev[name].version, dev[name].marker, sorted(dev[name].hashes)) == (
            package.version,
            package.marker,
            sorted(package.hashes),
        ), name


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kopf>=1.37\n", "expected `name==version`"),
        ("kopf==1.45.2\n", "no hashes"),
        ("kopf==1.45.2 \\\n    --hash=sha256:abc\n", "expected `--hash=sha256:<64 hex>`"),
        ("--index-url https://example.invalid/simple\n", "expected `name==version`"),
        ("-e .\n", "expected `name==version`"),
        ("kopf @ https://example.invalid/kopf.whl\n", "expected `name==version`"),
        (f"kopf==1.45.2 \\\n    --hash=sha256:{'a' * 64}\nKopf==1.45.2 \\\n    --hash=sha256:{'b' * 64}\n", "twice"),
    ],
)
def test_a_line_pip_would_refuse_fails_the_parse(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_lock(text)


def test_the_parse_keeps_version_marker_hashes_and_annotation() -> None:
    text = (
        "# This file was autogenerated by uv via the following command:\n"
        "#    make lock\n"
        f"colorama==0.4.6 ; sys_platform == 'win32' \\\n    --hash=sha256:{'a' * 64} \\\n"
        f"    --hash=sha256:{'b' * 64}\n    # via pytest\n"
        f"kopf==1.45.2 \\\n    --hash=sha256:{'c' * 64}\n    # via\n    #   -c requirements.lock\n"
        f"    #   {FROM_PYPROJECT}\n"
    )
    packages = parse_lock(text)
    assert packages["colorama"].version == "0.4.6"
    assert str(packages["colorama"].marker) == 'sys_platform == "win32"'
    assert len(packages["colorama"].hashes) == 2
    assert packages["colorama"].via == ["pytest"]
    assert packages["kopf"].via == ["-c requirements.lock", FROM_PYPROJECT]


def test_a_changed_pyproject_disagrees_with_the_lock() -> None:
    """What the tests above catch when pyproject.toml moves and the lock does not."""
    requirements: list[str] = pyproject()["project"]["dependencies"]
    runtime = lock(RUNTIME)
    kopf = next(text for text in requirements if Requirement(text).name == "kopf")
    raised = [text if text != kopf else "kopf>=99" for text in requirements]
    assert disagreements(raised, runtime, RUNTIME) == [
        f"{RUNTIME}: kopf=={runtime['kopf'].version} is outside kopf>=99"
    ]
    assert disagreements([*requirements, "httpx>=0.27"], runtime, RUNTIME) == [f"{RUNTIME}: httpx>=0.27 is not locked"]
    dropped = [text for text in requirements if text != kopf]
    assert disagreements(dropped, runtime, RUNTIME) == [
        f"{RUNTIME}: kopf is locked as a dependency of pyproject.toml, which no longer has it"
    ]
    linux_only = dict(runtime, kopf=Locked("kopf", runtime["kopf"].version, Marker("platform_machine == 'x86_64'")))
    assert disagreements(requirements, linux_only, RUNTIME) == [
        f'{RUNTIME}: kopf is locked only for `platform_machine == "x86_64"`, not for Python 3.11 on aarch64'
    ]


def test_make_venv_rebuilds_when_a_lock_file_changes(tmp_path: Path) -> None:
    """The venv's stamps depend on the lock files (the Makefile): asked with `make -q`, which
    only answers whether a target is up to date, on a copy (the worktree's own times are left)."""
    for name in ("Makefile", "pyproject.toml", RUNTIME, DEV, BUILD):
        (tmp_path / name).write_bytes((REPO / name).read_bytes())
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    locked, installed = ".venv/bin/.locked", ".venv/bin/.installed"  # as the Makefile names them

    def up_to_date(target: str) -> bool:
        done = subprocess.run(["make", "-q", "-C", str(tmp_path), target], capture_output=True, text=True)
        assert done.returncode in (0, 1), done.stderr
        return done.returncode == 0

    def at(path: Path, seconds: float) -> None:
        path.touch()
        os.utime(path, (seconds, seconds))

    for name in ("pyproject.toml", RUNTIME, DEV, BUILD):
        at(tmp_path / name, 1_000_000)
    at(tmp_path / locked, 2_000_000)
    at(tmp_path / installed, 3_000_000)
    assert up_to_date(installed)
    for name in (RUNTIME, DEV, BUILD):
        at(tmp_path / name, 2_500_000)  # changed after the venv was made
        assert not up_to_date(locked), f"a changed {name} does not rebuild the venv"
        at(tmp_path / name, 1_000_000)
    at(tmp_path / "pyproject.toml", 3_500_000)  # only the editable install and `pip check` again
    assert up_to_date(locked)
    assert not up_to_date(installed)


@pytest.mark.parametrize(
    ("path", "needed"),
    [
        ("Makefile", [BUILD, DEV]),
        ("Dockerfile", [BUILD, RUNTIME]),
    ],
)
def test_the_installs_check_the_hashes(path: str, needed: list[str]) -> None:
    text = (REPO / path).read_text()
    for lock_file in needed:
        # the lock file by its name, wherever it is mounted
        assert re.search(rf"--require-hashes -r \S*{re.escape(lock_file)}\s", text), (
            f"{path} does not install {lock_file} with its hashes"
        )
    assert "--no-deps" in text, f"{path}: the operator itself must come without dependencies (they are locked)"
