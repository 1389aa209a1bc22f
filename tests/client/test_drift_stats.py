"""DriftStats: percentiles, counts and the synced fraction, in constant memory."""

from __future__ import annotations

import pytest

from watchium_client.sync import Correction, DriftStats


def test_drift_stats_percentiles_and_counts() -> None:
    stats = DriftStats()
    for i in range(1, 101):
        stats.add(i / 1000 * (-1) ** i)  # 1..100 ms, both signs
    stats.count_correction(Correction.SPEED)
    stats.count_correction(Correction.STEADY_SEEK)
    summary = stats.summary()
    assert summary.count == 100
    assert summary.mean == pytest.approx(0.0505)
    assert summary.p50 == pytest.approx(0.050, abs=0.0005)
    assert summary.p95 == pytest.approx(0.095, abs=0.0005)
    assert summary.p99 == pytest.approx(0.099, abs=0.0005)
    assert summary.max == pytest.approx(0.100)
    assert (summary.speed_nudges, summary.seeks, summary.steady_seeks) == (1, 1, 1)
    assert summary.synced_fraction == 1.0
    stats.add(5.0)
    stats.add(50.0)  # overflow bin
    assert stats.summary().max == 50.0
    assert stats.summary().synced_fraction == pytest.approx(100 / 102)
    stats.reset()
    assert stats.summary().count == 0 and stats.summary().p95 is None
