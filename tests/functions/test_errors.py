"""The one SQLSTATE -> HTTP mapping: complete for every code the SQL raises, in step with
docs/ERRORS.md, and safe for everything else."""

from __future__ import annotations

import logging
import re

import psycopg
import psycopg_pool
import pytest

from tests._pg import PROJECT_DIR, TestDatabase
from tests.sql.test_error_catalogue import raised_codes
from watchium_functions._errors import FunctionError, from_database_error
from watchium_wire.errors import CATALOGUE, by_code


def documented_statuses() -> dict[str, int]:
    """Code -> HTTP status from every table of docs/ERRORS.md."""
    statuses: dict[str, int] = {}
    for line in (PROJECT_DIR / "docs" / "ERRORS.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not cells[1].isdigit():
            continue
        for code in re.findall(r"`([0-9A-Z]{5})`", cells[0]):
            statuses[code] = int(cells[1])
    return statuses


def test_every_code_raised_in_the_migrations_has_a_status() -> None:
    codes = raised_codes()
    assert {"WR400", "WR429", "WRL29", "WR404"} <= codes
    for code in codes:
        assert FunctionError(code).status == by_code(code).status  # type: ignore[union-attr]


def test_every_status_matches_the_documented_one() -> None:
    documented = documented_statuses()
    assert documented, "docs/ERRORS.md has no code table"
    for entry in CATALOGUE:
        assert documented.get(entry.code) == entry.status, entry.code


def test_a_code_outside_the_catalogue_is_a_bug() -> None:
    with pytest.raises(ValueError, match="not in the catalogue"):
        FunctionError("WRZ99")


def _raise(database: TestDatabase, statement: str) -> psycopg.Error:
    with database.connect() as conn, pytest.raises(psycopg.Error) as info:
        conn.execute(statement)
    return info.value


def test_a_rate_limit_carries_retry_after_rounded_up(database: TestDatabase) -> None:
    exc = _raise(
        database,
        "do $$ begin perform watchium.raise_rate_limited('WR429', 'comments', 1.2, "
        "'rate limit reached for comments'); end $$",
    )
    error = from_database_error(exc)
    assert error.code == "WR429" and error.status == 429
    assert error.headers == {"Retry-After": "2"}
    assert error.details == {"action": "comments", "retry_after": 1.2}
    assert error.body()["hint"] == "retry after 2 seconds"


def test_a_postgres_constraint_names_the_constraint_not_the_row(database: TestDatabase) -> None:
    exc = _raise(
        database,
        "insert into rooms (room_id, title, anime_id, anime_title, video_url, host_user_id, "
        "host_username) values ('abcdefghij', ' ', 'a', 'a', 'https://x/y', 'u', 'u')",
    )
    error = from_database_error(exc)
    assert error.status == 400 and error.code == "23514"
    assert error.details == {"constraint": "valid_title"}
    assert "Failing row" not in str(error.body())
    assert error.message == by_code("23514").message  # type: ignore[union-attr]


def test_a_postgres_code_is_answered_in_our_words_not_its_own(database: TestDatabase) -> None:
    exc = _raise(database, "select 100000000::numeric(10, 2)")
    error = from_database_error(exc)
    assert (error.code, error.status) == ("22003", 400)
    assert error.body() == {"code": "22003", "message": "a number is out of range"}


def test_an_unknown_database_error_is_a_generic_500_logged_with_its_sqlstate(
    database: TestDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    exc = _raise(database, "select 1 / 0")
    with caplog.at_level(logging.ERROR, logger="watchium_functions._errors"):
        error = from_database_error(exc)
    assert error.status == 500
    assert error.body() == {"code": "WH500", "message": by_code("WH500").message}  # type: ignore[union-attr]
    assert "22012" in caplog.text and "division by zero" in caplog.text


def test_an_unmapped_project_code_is_500(database: TestDatabase) -> None:
    exc = _raise(database, "do $$ begin raise exception using errcode = 'WRZ99'; end $$")
    assert from_database_error(exc).status == 500


def test_outages_are_503_with_retry_after() -> None:
    for exc in (
        psycopg.OperationalError("connection refused"),
        psycopg_pool.PoolTimeout("couldn't get a connection after 5.00 sec"),
        ConnectionRefusedError(111, "refused"),
        psycopg.errors.DiskFull("could not extend file: No space left on device"),
        psycopg.errors.OutOfMemory("out of memory"),
    ):
        error = from_database_error(exc)
        assert error.code == "WH503", exc
        assert error.status == 503 and error.headers["Retry-After"] == "1"


def test_a_value_the_driver_cannot_send_is_400() -> None:
    error = from_database_error(psycopg.DataError("PostgreSQL text fields cannot contain NUL"))
    assert error.status == 400 and error.code == "WR400"
