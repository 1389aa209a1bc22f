"""What each part of the project loads and installs: the function app runs without the SDK and
its client libraries, the wire contract needs only pydantic, and the SDK installs without the
server's dependencies."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests._pg import PROJECT_DIR

_PYDANTIC = {
    "pydantic",
    "pydantic_core",
    "annotated_types",
    "typing_extensions",
    "typing_inspection",
}


def _loaded_after(code: str) -> set[str]:
    """The top-level modules a fresh interpreter has loaded after running ``code``."""
    script = (
        code
        + "\nimport json, sys\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True, cwd="/"
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_the_function_app_loads_no_client_library() -> None:
    loaded = _loaded_after(
        "import watchium_functions as f\n"
        "f.create_app(f.FunctionsSettings(db_url='postgresql://h/db', jwt_secret='s' * 40))"
    )
    assert "watchium_functions" in loaded and "psycopg" in loaded
    assert loaded & {"supabase", "realtime", "typer", "rich", "watchium_client"} == set()


def test_the_wire_contract_needs_only_pydantic() -> None:
    at_start = _loaded_after("")  # what the interpreter and site-packages load by themselves
    loaded = _loaded_after("import watchium_wire") - at_start
    # sysconfig's data module is the standard library's, under a platform-specific name.
    stdlib = set(sys.stdlib_module_names) | {m for m in loaded if m.startswith("_sysconfigdata")}
    third_party = loaded - stdlib - {"watchium_wire"}
    assert third_party <= _PYDANTIC, third_party - _PYDANTIC


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a copy: a build writes build/ and *.egg-info next to the sources.
    source = tmp_path_factory.mktemp("source") / "watchium"
    shutil.copytree(
        PROJECT_DIR,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "node_modules", ".watchium", "build", "*.egg-info", "tests", "bench"
        ),
    )
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w", str(out)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("watchium-*.whl")
    return built


def test_the_sdk_installs_without_the_server(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        lines = archive.read(metadata).decode().splitlines()
    requirements = [
        Requirement(line.split(":", 1)[1]) for line in lines if line.startswith("Requires-Dist:")
    ]
    unconditional = {r.name for r in requirements if r.marker is None}
    assert {"supabase", "pydantic"} <= unconditional
    assert unconditional & {"psycopg", "psycopg-pool", "uvicorn", "pyjwt", "websockets"} == set()
    server = {r.name for r in requirements if r.marker and r.marker.evaluate({"extra": "server"})}
    assert {"psycopg", "uvicorn", "pyjwt"} <= server


def test_the_wheel_installs_no_generic_top_level_names(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        top = {name.split("/")[0] for name in archive.namelist()}
    packages = {name for name in top if not name.endswith(".dist-info")}
    assert packages == {"watchium_wire", "watchium_functions", "watchium_client", "watchium_stack"}
