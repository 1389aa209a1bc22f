"""One error catalogue: every code the database raises is in it, and docs/ERRORS.md documents
exactly its codes."""

from __future__ import annotations

import re

from tests._pg import PROJECT_DIR
from watchium_wire.errors import CATALOGUE


def raised_codes() -> set[str]:
    text = "\n".join(p.read_text() for p in (PROJECT_DIR / "supabase" / "migrations").glob("*.sql"))
    codes = set(re.findall(r"errcode = '(WR[0-9A-Z]{3})'", text))
    codes |= set(re.findall(r"'code', '(WR[0-9A-Z]{3})'", text))
    codes |= set(re.findall(r"raise_rate_limited\(\s*'(WR[0-9A-Z]{3})'", text))
    codes |= set(re.findall(r"'(WR[0-9A-Z]{3})', p_action", text))
    return codes


def documented_codes() -> set[str]:
    """The codes in the first column of docs/ERRORS.md's tables."""
    codes: set[str] = set()
    for line in (PROJECT_DIR / "docs" / "ERRORS.md").read_text().splitlines():
        if line.startswith("| "):
            codes |= set(re.findall(r"`([0-9A-Z]{5})`", line.split("|")[1]))
    return codes


def test_every_code_the_database_raises_is_in_the_catalogue() -> None:
    codes = raised_codes()
    assert {"WR401", "WR404", "WR429", "WRL29"} <= codes  # the scan finds them
    catalogue = {entry.code for entry in CATALOGUE}
    assert codes - catalogue == set()
    project = {code for code in catalogue if code.startswith("WR")}
    assert project - codes - {"WR400", "WR401", "WR413"} == set(), "codes that nothing raises"


def test_the_error_page_documents_the_catalogue() -> None:
    catalogue = {entry.code for entry in CATALOGUE}
    documented = documented_codes()
    assert catalogue - documented == set(), "catalogue codes missing from docs/ERRORS.md"
    assert documented - catalogue == set(), "documented codes missing from the catalogue"
