"""The one SQLSTATE -> HTTP mapping: complete for every code the SQL raises, in step with
docs/ERRORS.md, and safe for everything else."""

from __future__ import annotations

import logging
import re

import psycopg
import psycopg_pool
import pytest

from functions import _errors
from functions._errors import (
    FunctionError,
    InternalError,
    RateLimited,
    ServiceUnavailable,
    from_database_error,
    lookup,
    registered_codes,
)
from tests._pg import PROJECT_DIR, TestDatabase
from tests.sql.test_error_catalogue import raised_codes


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


def test_every_code_raised_in_the_migrations_has_a_mapping() -> None:
    codes = raised_codes()
    assert {"WR400", "WR429", "WRL29", "WRK03"} <= codes
    assert codes - registered_codes() == set(), "WR codes raised by the SQL without a mapping"


def test_every_mapping_matches_the_documented_status() -> None:
    documented = documented_statuses()
    assert documented, "docs/ERRORS.md has no code table"
    for code in registered_codes():
        assert code in documented, f"{code} is mapped but not documented"
        cls = lookup(code)
        assert cls is not None and cls.status == documented[code], code


def test_codes_register_once_and_the_status_is_inherited() -> None:
    with pytest.raises(TypeError, match="already registered"):

        class Again(FunctionError, code="WR404", status=404):
            pass

    assert issubclass(lookup("WRL29"), RateLimited)  # type: ignore[arg-type]
    assert _errors.KeyChecksPaused.status == 429


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
    assert type(error) is _errors.RateLimited and error.status == 429
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
    assert error.status == 400 and error.error_code == "23514"
    assert error.details == {"constraint": "valid_title"}
    assert "Failing row" not in str(error.body())


def test_an_unknown_database_error_is_a_generic_500_logged_with_its_sqlstate(
    database: TestDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    exc = _raise(database, "select 1 / 0")
    with caplog.at_level(logging.ERROR, logger="functions._errors"):
        error = from_database_error(exc)
    assert isinstance(error, InternalError) and error.status == 500
    assert error.body() == {"code": "WH500", "message": InternalError.default_message}
    assert "22012" in caplog.text and "division by zero" in caplog.text


def test_an_unmapped_project_code_is_500(database: TestDatabase) -> None:
    exc = _raise(database, "do $$ begin raise exception using errcode = 'WRZ99'; end $$")
    assert from_database_error(exc).status == 500


def test_outages_are_503_with_retry_after() -> None:
    for exc in (
        psycopg.OperationalError("connection refused"),
        psycopg_pool.PoolTimeout("couldn't get a connection after 5.00 sec"),
        ConnectionRefusedError(111, "refused"),
    ):
        error = from_database_error(exc)
        assert isinstance(error, ServiceUnavailable), exc
        assert error.status == 503 and error.headers["Retry-After"] == "1"


def test_a_value_the_driver_cannot_send_is_400() -> None:
    error = from_database_error(psycopg.DataError("PostgreSQL text fields cannot contain NUL"))
    assert error.status == 400 and error.error_code == "WR400"
