"""The README and docs/CLIENT.md work as a reader follows them, and the front door is plain.

Every fenced ``python`` block runs on its own in a new interpreter, exactly as written, as a
reader runs it after ``eval "$(watchium keys --export)"``: with ``WATCHIUM_URL`` and
``WATCHIUM_PUBLISHABLE_KEY`` in the environment and nothing else defined for it.
A block fenced ``python notest`` is a fragment (it needs a real video or an open session) and is
only compiled.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests._stack import Stack

PROJECT_DIR = Path(__file__).resolve().parent.parent
DOCS = ("README.md", "docs/CLIENT.md")
FENCE = re.compile(r"^```python( notest)?\n(.*?)^```", re.MULTILINE | re.DOTALL)
EXPORT = 'eval "$(watchium keys --export)"'


def _blocks(kind: str) -> list[object]:
    found = []
    for doc in DOCS:
        text = (PROJECT_DIR / doc).read_text()
        for number, match in enumerate(FENCE.finditer(text), 1):
            fragment = match.group(1) is not None
            if fragment == (kind == "fragment"):
                line = text.count("\n", 0, match.start()) + 1
                found.append(pytest.param(match.group(2), id=f"{doc}:{line}#{number}"))
    return found


def test_the_docs_have_examples() -> None:
    assert len(_blocks("runnable")) >= 4


@pytest.mark.parametrize("doc", DOCS)
def test_the_docs_say_how_to_get_the_url_and_key(doc: str) -> None:
    text = (PROJECT_DIR / doc).read_text()
    assert "source .venv/bin/activate" in text and EXPORT in text
    assert ".venv/bin/watchium" not in text, "one way to run watchium: the activated virtualenv"


@pytest.mark.parametrize("code", _blocks("runnable"))
def test_example_runs(code: str, stack: Stack) -> None:
    assert 'os.environ["WATCHIUM_PUBLISHABLE_KEY"]' in code, "the example says where its key is"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WATCHIUM_", "SUPABASE_"))}
    env.update(WATCHIUM_URL=stack.url, WATCHIUM_PUBLISHABLE_KEY=stack.publishable_key)
    run = subprocess.run(
        [sys.executable, "-X", "dev", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT_DIR,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout, "the example prints what it shows"


@pytest.mark.parametrize("code", _blocks("fragment"))
def test_fragment_compiles(code: str) -> None:
    # Top-level await is how the fragments read; compile them as the body of a coroutine.
    body = "".join(f"    {line}\n" for line in code.splitlines())
    compile(f"async def fragment():\n{body}", "<fragment>", "exec")


def test_make_help_off_a_terminal_has_no_colour_codes() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    run = subprocess.run(
        ["make", "--no-print-directory", "help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT_DIR,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    assert "\x1b" not in run.stdout
    targets = {line.split()[0] for line in run.stdout.splitlines() if line.strip()}
    assert {"dev", "test", "check", "help"} <= targets
