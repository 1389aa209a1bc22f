"""Every project SQLSTATE raised by the migrations is documented in docs/ERRORS.md."""

from __future__ import annotations

import re

from tests._pg import PROJECT_DIR


def raised_codes() -> set[str]:
    text = "\n".join(p.read_text() for p in (PROJECT_DIR / "supabase" / "migrations").glob("*.sql"))
    codes = set(re.findall(r"errcode = '(WR[0-9A-Z]{3})'", text))
    codes |= set(re.findall(r"'code', '(WR[0-9A-Z]{3})'", text))
    codes |= set(re.findall(r"raise_rate_limited\(\s*'(WR[0-9A-Z]{3})'", text))
    codes |= set(re.findall(r"'(WR[0-9A-Z]{3})', p_action", text))
    return codes


def test_every_raised_code_is_documented() -> None:
    documented = set(
        re.findall(
            r"^\| `(WR[0-9A-Z]{3})` \|",
            (PROJECT_DIR / "docs" / "ERRORS.md").read_text(),
            flags=re.M,
        )
    )
    codes = raised_codes()
    assert {"WR401", "WR404", "WR429", "WRL29", "WRK03"} <= codes  # the scan finds them
    assert codes - documented == set()
    assert documented - codes == set(), "documented codes that nothing raises"
