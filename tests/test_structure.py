"""A module a reader can hold in their head: no Python file grows past 500 lines without saying,
in its first line, why it is one file."""

from __future__ import annotations

from pathlib import Path

from tests._pg import PROJECT_DIR

LIMIT = 500
_SKIPPED = {".venv", "node_modules", "build", ".git", ".watchium"}


def python_files() -> list[Path]:
    return [
        path
        for path in PROJECT_DIR.rglob("*.py")
        if not _SKIPPED & set(path.relative_to(PROJECT_DIR).parts)
    ]


def test_long_modules_say_why() -> None:
    files = python_files()
    assert len(files) > 50  # the walk finds the tree
    unexplained = []
    for path in files:
        lines = path.read_text().splitlines()
        if len(lines) > LIMIT and not lines[0].startswith("# Over 500 lines: "):
            unexplained.append(f"{path.relative_to(PROJECT_DIR)} ({len(lines)} lines)")
    assert unexplained == [], "split these, or say why in a first line '# Over 500 lines: ...'"
