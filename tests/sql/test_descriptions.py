"""The descriptions psql users read (\\d+, \\df+)."""

from __future__ import annotations

from tests._pg import SqlSession


def test_descriptions_speak_of_the_product(sql: SqlSession) -> None:
    # What psql users read (\d+, \df+) describes the product, not how it was designed.
    described = sql.all(
        "select d.description from pg_description d "
        "join pg_namespace n on n.oid in (select pronamespace from pg_proc where oid = d.objoid "
        "union select relnamespace from pg_class where oid = d.objoid) "
        "where n.nspname in ('public', 'watchium')"
    )
    assert described
    assert [d for d in described if "seed" in d["description"].lower()] == []
