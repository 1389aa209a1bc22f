"""Observations and policy states for the tests of `decide`, one tick at a time.

The room is at 500 s of media at local time 100 s unless a test says otherwise, so a drift reads
directly as the player's offset from the room, and a seek target as 500 plus its lead.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from watchium_client.sync._policy import (
    Observation,
    PolicyState,
    SyncDecision,
    SyncPhase,
    decide,
)
from watchium_client.sync._thresholds import SyncThresholds

__all__ = ["TARGET", "TH", "expect", "obs", "run", "steady"]

TH = SyncThresholds()
TARGET = 500.0


def obs(
    drift: float,
    now: float = 100.0,
    *,
    room_playing: bool = True,
    player_playing: bool = True,
    player_speed: float | None = None,
    room_speed: float = 1.0,
    **fields: object,
) -> Observation:
    """The player ``drift`` seconds off the room (positive: ahead), at local time ``now``."""
    return Observation(
        now=now,
        target=TARGET,
        position=TARGET + drift,
        room_playing=room_playing,
        room_speed=room_speed,
        player_playing=player_playing,
        player_speed=room_speed if player_speed is None else player_speed,
        **fields,  # type: ignore[arg-type]
    )


def steady(**fields: object) -> PolicyState:
    """A policy in steady playback: past any transition, the seek latency known."""
    values: dict[str, object] = {
        "phase": SyncPhase.IN_SYNC,
        "last_tick": 99.9,
        "latency_samples": 1,
        **fields,
    }
    return dataclasses.replace(PolicyState.initial(TH), **values)  # type: ignore[arg-type]


def run(state: PolicyState, observation: Observation) -> tuple[PolicyState, SyncDecision]:
    """One tick with the default thresholds."""
    return decide(state, observation, TH)


def expect(decision: SyncDecision, **fields: Any) -> None:
    """Each named field of ``decision`` equals the value given (floats to rounding)."""
    for name, value in fields.items():
        actual = getattr(decision, name)
        if isinstance(value, float):
            assert actual == pytest.approx(value), name
        else:
            assert actual == value, name
