"""A paused room (or one whose start is still ahead): the player is held at the room's position,
sought there once, and left where that seek landed."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from tests.client._policy import TARGET, TH, expect, obs, run, steady
from watchium_client.sync._policy import Correction, SyncPhase


@pytest.mark.parametrize(
    ("drift", "observed", "remembered", "expected"),
    [
        pytest.param(
            TH.paused_tolerance,
            {},
            {},
            {"phase": SyncPhase.PAUSED, "seek_to": None, "correction": None},
            id="within the tolerance: stays",
        ),
        pytest.param(
            -TH.paused_tolerance - 0.001,
            {},
            {},
            {"phase": SyncPhase.PAUSED, "seek_to": TARGET, "correction": Correction.SEEK},
            id="beyond it: seeks to the exact position",
        ),
        pytest.param(
            0.5,
            {},
            {"last_seek_at": 99.5},
            {"phase": SyncPhase.PAUSED, "seek_to": None},
            id="cooling down: not yet",
        ),
        pytest.param(
            TH.paused_landing - 0.001,
            {},
            {"paused_seek_target": TARGET},
            {"phase": SyncPhase.PAUSED, "seek_to": None, "correction": None},
            id="sought there already: where it landed stands (a frame late)",
        ),
        pytest.param(
            TH.paused_landing + 0.001,
            {},
            {"paused_seek_target": TARGET},
            {"phase": SyncPhase.PAUSED, "seek_to": TARGET, "correction": Correction.SEEK},
            id="sought there already, but moved away since: seeks again",
        ),
        pytest.param(
            TH.paused_tolerance + 0.001,
            {},
            {"paused_seek_target": TARGET - 5.0},
            {"phase": SyncPhase.PAUSED, "seek_to": TARGET, "correction": Correction.SEEK},
            id="sought to an earlier position of the room: seeks to this one",
        ),
        pytest.param(
            0.0,
            {"player_playing": True},
            {},
            {"phase": SyncPhase.PAUSED, "set_playing": False},
            id="a playing player is paused",
        ),
        pytest.param(
            0.0,
            {"room_scheduled": True, "starts_in": 1.5},
            {},
            {"phase": SyncPhase.STARTING, "set_playing": None, "wake_in": 1.5},
            id="a scheduled start wakes the engine at the start",
        ),
        pytest.param(
            0.0,
            {"room_scheduled": True, "starts_in": 1.5, "player_playing": True},
            {},
            {"phase": SyncPhase.STARTING, "set_playing": False, "wake_in": 1.5},
            id="and holds the player paused until then",
        ),
        pytest.param(
            0.0,
            {"player_speed": 1.03},
            {"nudge": 0.03, "correcting": True},
            {"set_speed": 1.0},
            id="a nudge left running ends",
        ),
        pytest.param(
            0.0,
            {},
            {"trim": 0.002},
            {"set_speed": 1.002, "wake_in": None},
            id="the rest speed includes the trim",
        ),
    ],
)
def test_a_paused_room_holds_the_player_at_its_position(
    drift: float, observed: dict[str, Any], remembered: dict[str, Any], expected: dict[str, Any]
) -> None:
    fields = {"player_playing": False, **observed}
    state, decision = run(steady(**remembered), obs(drift, room_playing=False, **fields))
    expect(decision, **expected)
    assert not state.correcting and state.nudge == 0.0 and state.cycle is None
    if decision.seek_to is not None:
        assert state.paused_seek_target == decision.seek_to


def test_a_paused_seek_landing_a_frame_late_is_not_repeated() -> None:
    """mpv's exact seek lands on the frame at or after its target: 24 fps puts it up to 42 ms
    past the paused room's position, beyond ``paused_tolerance``; one seek, then it stands."""
    frame_late = 0.040
    assert TH.paused_tolerance < frame_late <= TH.paused_landing
    state = steady()
    seeks = 0
    for second in range(30):  # 30 s of a paused room, a tick a second (past every cooldown)
        # Each seek has landed by the next tick, a frame late.
        state = dataclasses.replace(state, pending_seek=None)
        observation = obs(frame_late, 100.0 + second, room_playing=False, player_playing=False)
        state, decision = run(state, observation)
        seeks += decision.seek_to is not None
    assert seeks == 1
