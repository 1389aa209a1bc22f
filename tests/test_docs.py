"""The Python examples in the README and docs/CLIENT.md run as written against the local stack.

Every fenced ``python`` block runs on its own in a new interpreter, as a reader would run it,
with the stack's URL in place of the default one and ``ANON_KEY`` defined (the README tells the
reader to paste it).
A block fenced ``python notest`` is a fragment (it needs a real video or an open session) and is
only compiled.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests._stack import Stack

PROJECT_DIR = Path(__file__).resolve().parent.parent
DOCS = ("README.md", "docs/CLIENT.md")
DEFAULT_URL = "http://127.0.0.1:54321"
FENCE = re.compile(r"^```python( notest)?\n(.*?)^```", re.MULTILINE | re.DOTALL)


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


@pytest.mark.parametrize("code", _blocks("runnable"))
def test_example_runs(code: str, stack: Stack) -> None:
    assert DEFAULT_URL in code, "a runnable example connects to the local stack"
    source = f"ANON_KEY = {stack.anon_key!r}\n" + code.replace(DEFAULT_URL, stack.url)
    run = subprocess.run(
        [sys.executable, "-X", "dev", "-c", source],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT_DIR,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout, "the example prints what it shows"


@pytest.mark.parametrize("code", _blocks("fragment"))
def test_fragment_compiles(code: str) -> None:
    # Top-level await is how the fragments read; compile them as the body of a coroutine.
    body = "".join(f"    {line}\n" for line in code.splitlines())
    compile(f"async def fragment():\n{body}", "<fragment>", "exec")
