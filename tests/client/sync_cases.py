"""The sync decisions as data: scripted runs of `decide` that the browser's engine replays.

Each case is a run of the pure policy (``watchium_client.sync._policy.decide``) against a small
model of a player in virtual time, through joins, host actions (play, pause, seek, speed,
scheduled starts), buffering, user holds, slow seeks and clock-offset jumps, with the default
thresholds and a few variants. Every step records the observation, the decision and the state
after it. ``web/test/sync_policy.test.js`` replays every step through ``web/src/sync/policy.js``
under ``node --test`` and compares; ``test_web_sync_cases.py`` checks that the committed file is
what this module makes now, so a change of the Python policy that is not made in the browser
fails the suite.

    .venv/bin/python -m tests.client.sync_cases     # rewrites web/test/sync_cases.json
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
from pathlib import Path
from typing import Any

from watchium_client.sync._policy import (
    Observation,
    PendingSeek,
    PolicyState,
    SyncDecision,
    TrimCycle,
    decide,
)
from watchium_client.sync._thresholds import SyncThresholds

PROJECT_DIR = Path(__file__).resolve().parents[2]
CASES_FILE = PROJECT_DIR / "web" / "test" / "sync_cases.json"

# (name, seed, threshold overrides, steps)
SCENARIOS: list[tuple[str, int, dict[str, float], int]] = [
    ("defaults-a", 1, {}, 400),
    ("defaults-b", 2, {}, 400),
    ("defaults-c", 3, {}, 400),
    ("defaults-long-steady", 4, {}, 700),
    ("narrow-band", 5, {"inner": 0.005, "outer": 0.02}, 250),
    ("no-speed-step", 6, {"speed_step": 0.0}, 250),
    ("slow-slew", 7, {"nudge_slew": 0.1, "max_nudge": 0.03}, 250),
    ("low-seek-threshold", 8, {"seek_threshold": 0.5, "transient_seek_threshold": 0.2}, 250),
]

# Steps are stored as arrays in these field orders (the file would be three times larger as
# objects); the file lists them too, and the replay reads them from there.
OBS_FIELDS = [f.name for f in dataclasses.fields(Observation)]
DECISION_FIELDS = [f.name for f in dataclasses.fields(SyncDecision)]
STATE_FIELDS = [f.name for f in dataclasses.fields(PolicyState)]


def _number(value: float) -> float | str:
    # JSON has no infinities; the replay reads these back.
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [_plain(getattr(value, f.name)) for f in dataclasses.fields(value)]
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, str):  # StrEnum members included
        return str(value)
    return value


class _ToyPlayer:
    """Just enough of a player for the policy to act on: a clock-rate error, seeks that land
    a few ticks later and a little off, stalls."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.position = rng.uniform(0.0, 3.0)
        self.playing = False
        self.speed = 1.0
        self.rate_error = rng.uniform(-0.005, 0.005)
        self.seek_left = 0
        self.seek_to = 0.0
        self.buffering = False

    def advance(self, dt: float) -> None:
        if self.seek_left > 0:
            self.seek_left -= 1
            if self.seek_left == 0:
                self.position = self.seek_to + self.rng.uniform(-0.004, 0.004)
            return
        if self.playing and not self.buffering:
            self.position += dt * self.speed * (1 + self.rate_error)

    def apply(self, decision: SyncDecision) -> None:
        if decision.set_playing is False:
            self.playing = False
        if decision.seek_to is not None:
            self.seek_to = decision.seek_to
            self.seek_left = self.rng.randint(1, 4)
        if decision.set_speed is not None:
            self.speed = decision.set_speed
        if decision.set_playing is True:
            self.playing = True


def _run(name: str, seed: int, overrides: dict[str, float], steps: int) -> dict[str, Any]:
    rng = random.Random(seed)
    th = SyncThresholds(**overrides)  # type: ignore[arg-type]
    state = PolicyState.initial(th)
    player = _ToyPlayer(rng)
    now = 1000.0
    room = {"position": 0.0, "updated_at": now - rng.uniform(0, 20), "playing": True, "speed": 1.0}
    offset = rng.uniform(-0.05, 0.05)
    hold_until = -math.inf
    recorded = []
    for _ in range(steps):
        dt = th.tick_interval * rng.choice((1.0, 1.0, 1.0, 0.5, 2.0, 0.25))
        now += dt
        player.advance(dt)
        changed = False
        roll = rng.random()
        if roll < 0.012:  # a host action
            at = now + offset
            current = _target(room, at)
            action = rng.choice(("play", "pause", "seek", "speed", "scheduled"))
            room = dict(room, position=current, updated_at=at)
            if action == "play":
                room["playing"] = True
            elif action == "pause":
                room["playing"] = False
            elif action == "seek":
                room["position"] = max(0.0, current + rng.uniform(-30, 60))
            elif action == "speed":
                room["speed"] = rng.choice((0.5, 1.0, 1.25, 1.5, 2.0))
            else:
                room.update(playing=True, updated_at=at + rng.uniform(0.2, 0.8))
            changed = True
        elif roll < 0.016 and not player.buffering:
            player.buffering = True
        elif player.buffering and roll > 0.93:
            player.buffering = False
        elif roll < 0.019:
            hold_until = now + th.user_hold
            player.position += rng.uniform(-5, 5)
        elif roll < 0.024:
            offset += rng.uniform(-0.03, 0.03)
        elif roll < 0.030:
            player.position += rng.uniform(-0.3, 0.3)  # a decoder hiccup
        elif roll < 0.032:
            player.position += rng.choice((-1, 1)) * rng.uniform(0.9, 2.5)  # a long one
        server_now = now + offset
        started = room["playing"] and server_now >= room["updated_at"]
        # Inputs to the microsecond: the decisions are made on exactly these values, and the
        # file stays small.
        obs = Observation(
            now=round(now, 6),
            target=round(_target(room, server_now), 6),
            position=round(player.position, 6),
            room_playing=started,
            room_scheduled=room["playing"] and not started,
            starts_in=round(max(0.0, room["updated_at"] - server_now), 6),
            room_speed=room["speed"],
            player_playing=player.playing,
            player_speed=round(player.speed, 9),
            seeking=player.seek_left > 0,
            buffering=player.buffering,
            room_changed=changed,
            hold=now < hold_until,
            clock_offset=round(offset, 6),
        )
        state, decision = decide(state, obs, th)
        player.apply(decision)
        recorded.append([_plain(obs), _plain(decision), _plain(state)])
    return {
        "name": name,
        "thresholds": {f.name: getattr(th, f.name) for f in dataclasses.fields(th)},
        "initial_state": _plain(PolicyState.initial(th)),
        "steps": recorded,
    }


def _target(room: dict[str, Any], server_now: float) -> float:
    if not room["playing"]:
        return float(room["position"])
    elapsed = max(0.0, server_now - room["updated_at"])
    return float(max(0.0, room["position"] + elapsed * room["speed"]))


def build() -> dict[str, Any]:
    """Every case, as the JSON document the browser's tests read."""
    return {
        "about": "Generated by tests/client/sync_cases.py from watchium_client.sync.decide; "
        "do not edit: run `.venv/bin/python -m tests.client.sync_cases`.",
        "default_thresholds": dataclasses.asdict(SyncThresholds()),
        "fields": {"obs": OBS_FIELDS, "decision": DECISION_FIELDS, "state": STATE_FIELDS},
        "pending_seek_fields": [f.name for f in dataclasses.fields(PendingSeek)],
        "cycle_fields": [f.name for f in dataclasses.fields(TrimCycle)],
        "cases": [_run(*scenario) for scenario in SCENARIOS],
    }


def render() -> str:
    return json.dumps(build(), indent=None, separators=(",", ":"), allow_nan=False) + "\n"


def main() -> None:
    CASES_FILE.write_text(render())
    print(f"wrote {CASES_FILE.relative_to(PROJECT_DIR)}")


if __name__ == "__main__":
    main()
