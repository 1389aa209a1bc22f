"""ClockSync: NTP-style offset from round trips, minimum-delay filter, monotonic local time."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests.client._fakes import FakeClock
from watchium_client.sync._clock import ClockSync, parse_server_time


def make_clock(window: int = 8) -> tuple[ClockSync, FakeClock]:
    mono = FakeClock(1000.0)
    # Wall clock reads 1.7e9 when the monotonic clock reads 1000: local_now = 1.7e9 + (mono-1000).
    return ClockSync(window=window, monotonic=mono, wall=lambda: 1_700_000_000.0), mono


def test_before_any_sample_server_now_is_local_time() -> None:
    clock, _ = make_clock()
    assert not clock.has_samples
    assert clock.offset == 0.0
    assert clock.error_bound == math.inf
    assert clock.server_now() == clock.local_now() == 1_700_000_000.0


def test_symmetric_round_trip_gives_the_exact_offset() -> None:
    clock, _ = make_clock()
    # Server is 2.5 s ahead; 40 ms each way.
    t0 = 100.0
    sample = clock.add_sample(t0, t0 + 0.040 + 2.5, t0 + 0.080)
    assert sample.offset == pytest.approx(2.5)
    assert sample.delay == pytest.approx(0.080)
    assert clock.offset == pytest.approx(2.5)
    assert clock.error_bound == pytest.approx(0.040)


def test_asymmetric_round_trip_errs_by_half_the_difference_within_the_bound() -> None:
    clock, _ = make_clock()
    true_offset = -1.2
    up, down = 0.010, 0.090
    t0 = 50.0
    clock.add_sample(t0, t0 + up + true_offset, t0 + up + down)
    assert clock.offset - true_offset == pytest.approx((up - down) / 2)
    assert abs(clock.offset - true_offset) <= clock.error_bound


def test_minimum_delay_sample_wins_over_jittered_ones() -> None:
    clock, _ = make_clock()
    true_offset = 0.75
    rng = random.Random(7)
    t = 0.0
    best_error = None
    for i in range(8):
        # Queueing adds to one direction at random; sample 5 has almost none.
        up = 0.020 + (0.0005 if i == 5 else rng.uniform(0.01, 0.15))
        down = 0.020 + (0.0002 if i == 5 else rng.uniform(0.01, 0.15))
        clock.add_sample(t, t + up + true_offset, t + up + down)
        if i == 5:
            best_error = (up - down) / 2
        t += 3.0
    assert clock.best is not None
    assert clock.best.delay == pytest.approx(0.0407)
    assert clock.offset - true_offset == pytest.approx(best_error)
    assert abs(clock.offset - true_offset) < 0.001
    assert clock.error_bound == pytest.approx(0.0407 / 2)


def test_only_the_last_window_samples_are_kept() -> None:
    clock, _ = make_clock(window=8)
    clock.add_sample(0.0, 10.0 + 0.001, 0.002)  # excellent sample, offset 10
    for i in range(1, 8):
        clock.add_sample(i, i + 0.05 + 20.0, i + 0.1)  # worse delay, offset 20
    assert clock.offset == pytest.approx(10.0)
    clock.add_sample(8.0, 8.05 + 20.0, 8.1)  # pushes the excellent one out
    assert len(clock.samples) == 8
    assert clock.offset == pytest.approx(20.0)


def test_equal_delays_prefer_the_newest_sample() -> None:
    clock, _ = make_clock()
    clock.add_sample(0.0, 1.05, 0.1)  # offset 1.0
    clock.add_sample(5.0, 7.05, 5.1)  # offset 2.0, same delay
    assert clock.offset == pytest.approx(2.0)


def test_server_now_follows_the_monotonic_clock_not_the_wall_clock() -> None:
    wall = [1_700_000_000.0]
    mono = FakeClock(500.0)
    clock = ClockSync(monotonic=mono, wall=lambda: wall[0])
    clock.add_sample(clock.local_now(), clock.local_now() + 3.0, clock.local_now())
    before = clock.server_now()
    wall[0] -= 3600.0  # the system clock is stepped back an hour
    mono.now += 2.0
    assert clock.server_now() - before == pytest.approx(2.0)


def test_response_before_request_is_rejected() -> None:
    clock, _ = make_clock()
    with pytest.raises(ValueError, match="before sent_at"):
        clock.add_sample(10.0, 10.0, 9.0)
    assert not clock.has_samples


def test_conversions_round_trip() -> None:
    clock, _ = make_clock()
    clock.add_sample(0.0, 5.0 + 0.01, 0.02)
    assert clock.to_local(clock.to_server(123.0)) == pytest.approx(123.0)
    assert clock.to_server(0.0) == pytest.approx(5.0)


async def test_measure_times_a_request() -> None:
    clock, mono = make_clock()

    async def request() -> str:
        mono.now += 0.030
        server = datetime.fromtimestamp(clock.local_now() + 1.5, tz=UTC)
        mono.now += 0.030
        return server.isoformat()

    sample = await clock.measure(request)
    assert sample.delay == pytest.approx(0.060)
    assert clock.offset == pytest.approx(1.5, abs=1e-5)


async def test_measure_adds_nothing_when_the_request_fails() -> None:
    clock, _ = make_clock()

    async def request() -> float:
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        await clock.measure(request)
    assert not clock.has_samples


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T12:00:00.123456+00:00", 1714564800.123456),
        ("2024-05-01 14:00:00.123456+02", 1714564800.123456),
        ("2024-05-01T12:00:00Z", 1714564800.0),
        (datetime(2024, 5, 1, 12, tzinfo=timezone(timedelta(hours=-3))), 1714575600.0),
        (1714564800.5, 1714564800.5),
        (1714564800, 1714564800.0),
    ],
)
def test_parse_server_time(value: object, expected: float) -> None:
    assert parse_server_time(value) == pytest.approx(expected, abs=1e-6)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("2024-05-01T12:00:00", ValueError),
        (datetime(2024, 5, 1, 12), ValueError),
        ("yesterday", ValueError),
        (float("nan"), ValueError),
        (True, TypeError),
        (None, TypeError),
    ],
)
def test_parse_server_time_rejects(value: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_server_time(value)  # type: ignore[arg-type]


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError):
        ClockSync(window=0)
