"""One source of truth for the sync decisions: the browser's engine (web/src/sync/) replays the
cases exported from the Python policy (tests/client/sync_cases.py), so a change to either that
is not made to the other fails here."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.client.sync_cases import CASES_FILE, PROJECT_DIR, render

pytestmark = pytest.mark.js


def test_the_exported_cases_are_current() -> None:
    assert CASES_FILE.read_text() == render(), (
        "web/test/sync_cases.json is not what the Python policy decides now: "
        "run `.venv/bin/python -m tests.client.sync_cases`, then make web/src/sync/policy.js "
        "decide the same (node --test web/test)"
    )


def test_the_browser_engine_replays_the_python_decisions() -> None:
    node = shutil.which("node")
    assert node is not None, "Node.js 20 is needed (see README.md)"
    proc = subprocess.run(
        [node, "--test", "web/test/"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        env={**os.environ, "NODE_NO_WARNINGS": "1"},
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "# fail 0" in proc.stdout
