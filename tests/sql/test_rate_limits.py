"""The rate-limit mechanism itself (the limits per action are tested with their actions)."""

from __future__ import annotations

import pytest

from tests._pg import SqlSession


def take(
    sql: SqlSession,
    subject: str = "s",
    action: str = "t",
    max_requests: int = 3,
    per: str = "1 second",
) -> float:
    return float(
        sql.scalar(
            "select watchium.rate_limit_take(%s, %s, %s, %s::interval)",
            (subject, action, max_requests, per),
        )
    )


def test_allows_a_burst_then_refuses_with_the_wait(sql: SqlSession) -> None:
    assert [take(sql) for _ in range(3)] == [0, 0, 0]
    wait = take(sql)
    assert 0 < wait <= 1 / 3


def test_refused_requests_are_not_counted(sql: SqlSession) -> None:
    for _ in range(3):
        take(sql, max_requests=3, per="1 hour")
    tat = sql.scalar("select tat from watchium.rate_limit_buckets where subject = 's'")
    for _ in range(10):
        assert take(sql, max_requests=3, per="1 hour") > 0
    assert sql.scalar("select tat from watchium.rate_limit_buckets where subject = 's'") == tat


def test_capacity_returns_as_time_passes(sql: SqlSession) -> None:
    for _ in range(3):
        take(sql, max_requests=3, per="1 hour")
    assert take(sql, max_requests=3, per="1 hour") > 0
    # Twenty minutes later one request (one third of the hour) is available again.
    sql.conn.execute(
        "update watchium.rate_limit_buckets set tat = tat - interval '20 minutes' "
        "where subject = 's'"
    )
    assert take(sql, max_requests=3, per="1 hour") == 0
    assert take(sql, max_requests=3, per="1 hour") > 0


def test_subjects_and_actions_are_independent(sql: SqlSession) -> None:
    for _ in range(3):
        take(sql, subject="a")
    assert take(sql, subject="a") > 0
    assert take(sql, subject="b") == 0
    assert take(sql, subject="a", action="other") == 0


def test_peek_does_not_count(sql: SqlSession) -> None:
    sql.conn.execute("insert into watchium.rate_limit_rules values ('probe', 2, '1 hour', 'test')")
    for _ in range(5):
        assert sql.scalar("select watchium.rate_limit_peek('s', 'probe')") == 0
    assert take(sql, action="probe", max_requests=2, per="1 hour") == 0
    assert take(sql, action="probe", max_requests=2, per="1 hour") == 0
    assert sql.scalar("select watchium.rate_limit_peek('s', 'probe')") > 0


def test_the_seed_check_rate_limit_uses_rules_or_explicit_limits(sql: SqlSession) -> None:
    # Seed defect 6: the seed counted sync_states rows, so comments were never limited.
    results = [sql.scalar("select watchium.check_rate_limit('u', 'comments')") for _ in range(6)]
    assert results == [True] * 5 + [False]
    explicit = [
        sql.scalar("select watchium.check_rate_limit('u', 'custom', 1, 2)") for _ in range(3)
    ]
    assert explicit == [True, True, False]


def test_unknown_action_without_limits_is_an_error(sql: SqlSession) -> None:
    with sql.raises("WR400"):
        sql.scalar("select watchium.rate_limit_take('s', 'no-such-action')")


@pytest.mark.parametrize(
    ("action", "max_requests", "per"),
    [
        ("room_creation", 10, "01:00:00"),
        ("sync_control", 2, "00:00:01"),
        ("comments", 5, "00:01:00"),
        ("room_management", 20, "01:00:00"),
    ],
)
def test_the_seeds_limits_are_the_defaults(
    sql: SqlSession, action: str, max_requests: int, per: str
) -> None:
    row = sql.one(
        "select max_requests, per::text as per from watchium.rate_limit_rules where action = %s",
        (action,),
    )
    assert row == {"max_requests": max_requests, "per": per}
