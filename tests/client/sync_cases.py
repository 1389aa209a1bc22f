"""The sync decisions as data: scripted runs of `decide` that the browser's engine replays.

Each case is a run of the pure policy (``watchium_client.sync._policy.decide``) against a small
model of a player in virtual time, through joins, host actions (play, pause, seek, scheduled
starts, speed changes scheduled at an agreed instant), buffering, user holds, slow seeks, seeks
landing up to a frame late (kept while paused) and clock-offset jumps, with the default
thresholds and a few variants. In the reference cases the player is the host's: its user acts
in it, the room follows a network delay later (a little off when misread), and the room is moved
to the player when the policy asks for a re-anchor. The observations carry what the engine
computes from the room (the speed to tell the player ahead of a scheduled change, via
``PlaybackState.continuing``). Every step records the observation, the decision and the state
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

from watchium_client.sync._engine import _command_speed
from watchium_client.sync._playback import PlaybackState
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


@dataclasses.dataclass(frozen=True)
class _Scenario:
    name: str
    seed: int
    overrides: dict[str, float] = dataclasses.field(default_factory=dict)
    steps: int = 250
    reference: bool = False
    """The player is the room's reference: the host acts in it, and the room follows."""
    landing: float = 0.0
    """Seeks land up to this much late (a frame: an exact seek lands on the frame at or after
    its target)."""
    action_rate: float = 0.012
    """The chance of a host action at each step."""


SCENARIOS: list[_Scenario] = [
    _Scenario("defaults-a", 1, steps=400),
    _Scenario("defaults-b", 2, steps=400),
    _Scenario("defaults-c", 3, steps=400),
    _Scenario("defaults-long-steady", 4, steps=700),
    _Scenario("narrow-band", 5, {"inner": 0.005, "transient_outer": 0.01, "outer": 0.02}),
    _Scenario("no-speed-step", 6, {"speed_step": 0.0}),
    _Scenario("slow-slew", 7, {"nudge_slew": 0.1, "max_nudge": 0.03}),
    _Scenario("low-seek-threshold", 8, {"seek_threshold": 0.5, "transient_seek_threshold": 0.2}),
    _Scenario("speed-changes", 9, steps=400, action_rate=0.03),
    _Scenario("frame-landing", 10, steps=400, landing=0.042, action_rate=0.02),
    _Scenario("reference-a", 11, steps=500, reference=True),
    _Scenario("reference-b", 12, steps=500, reference=True, landing=0.042, action_rate=0.02),
    _Scenario(
        "reference-slow-settle", 13, {"reference_settle": 1.0, "speed_settle": 1.0}, 300, True
    ),
]

# Steps are stored as arrays in these field orders (the file would be three times larger as
# objects); the file lists them too, and the replay reads them from there.
OBS_FIELDS = [f.name for f in dataclasses.fields(Observation)]
DECISION_FIELDS = [f.name for f in dataclasses.fields(SyncDecision)]
STATE_FIELDS = [f.name for f in dataclasses.fields(PolicyState)]

_SPEEDS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)


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
    a few ticks later and a little off (or up to a frame late), a new speed heard a while after
    it is told, stalls."""

    def __init__(self, rng: random.Random, landing: float, speed_latency: float) -> None:
        self.rng = rng
        self.position = rng.uniform(0.0, 3.0)
        self.playing = False
        self.speed = 1.0
        """The speed it was last told (and reports)."""
        self.heard = 1.0
        """The speed it plays at: a large change is heard ``speed_latency`` after it is told."""
        self.heard_switch: tuple[float, float] | None = None
        self.speed_latency = speed_latency
        self.rate_error = rng.uniform(-0.005, 0.005)
        self.landing = landing
        self.seek_left = 0
        self.seek_to = 0.0
        self.buffering = False

    def advance(self, now: float, dt: float) -> None:
        if self.heard_switch is not None and now >= self.heard_switch[0]:
            self.heard = self.heard_switch[1]
            self.heard_switch = None
        if self.seek_left > 0:
            self.seek_left -= 1
            if self.seek_left == 0:
                late = self.rng.uniform(0.0, self.landing)
                self.position = max(0.0, self.seek_to + late + self.rng.uniform(-0.004, 0.004))
            return
        if self.playing and not self.buffering:
            self.position += dt * self.heard * (1 + self.rate_error)

    def tell_speed(self, now: float, speed: float) -> None:
        self.speed = speed
        if abs(speed / self.heard - 1) < 0.1 and self.heard_switch is None:
            self.heard = speed  # a nudge: too small to be heard late
        else:
            self.heard_switch = (now + self.speed_latency, speed)

    def apply(self, now: float, decision: SyncDecision) -> None:
        if decision.set_playing is False:
            self.playing = False
        if decision.seek_to is not None:
            self.seek_to = decision.seek_to
            self.seek_left = self.rng.randint(1, 4)
        if decision.set_speed is not None:
            self.tell_speed(now, decision.set_speed)
        if decision.set_playing is True:
            self.playing = True


class _Room:
    """The room as one player's engine sees it: states delivered a little late, each taken
    after the one before it as the engine takes them (`PlaybackState.continuing`)."""

    def __init__(self, state: PlaybackState) -> None:
        self.state = state
        self.on_the_way: list[tuple[float, PlaybackState]] = []

    def send(self, arrives: float, state: PlaybackState) -> None:
        self.on_the_way.append((arrives, state))

    def deliver(self, now: float) -> bool:
        """Takes the states that have arrived; whether one changed the playback."""
        changed = False
        while self.on_the_way and self.on_the_way[0][0] <= now:
            _, state = self.on_the_way.pop(0)
            if not self.state.same_playback(state):
                self.state = state.continuing(self.state)
                changed = True
        return changed

    def latest(self) -> PlaybackState:
        return self.on_the_way[-1][1] if self.on_the_way else self.state


def _host_action(rng: random.Random, room: _Room, at: float, now: float) -> None:
    """A host's action from the app (the host's player, if this is it, is not touched)."""
    state = room.latest()
    current = state.target_position(at)
    if state.is_playing:
        action = rng.choice(("pause", "seek", "seek", "speed", "speed", "scheduled"))
    else:
        action = rng.choice(("play", "play", "seek", "scheduled"))
    new = dataclasses.replace(state, position=current, updated_at=at, lead_in_speed=None)
    if action == "play":
        new = dataclasses.replace(new, is_playing=True)
    elif action == "pause":
        new = dataclasses.replace(new, is_playing=False)
    elif action == "seek":
        delay = rng.choice((0.0, 0.6)) if state.is_playing else 0.0
        position = max(0.0, current + rng.uniform(-30, 60))
        new = dataclasses.replace(new, position=position, updated_at=at + delay)
    elif action == "speed":
        # A scheduled speed change: the room keeps its tempo until the agreed instant.
        when = at + rng.choice((0.0, rng.uniform(0.3, 1.2)))
        new = dataclasses.replace(
            new,
            position=state.target_position(when),
            updated_at=when,
            playback_speed=rng.choice(_SPEEDS),
        )
    else:
        new = dataclasses.replace(new, is_playing=True, updated_at=at + rng.uniform(0.2, 0.8))
    room.send(now, new)


def _own_action(
    rng: random.Random, room: _Room, player: _ToyPlayer, now: float, at: float, latency: float
) -> None:
    """The host acts in its own player (the reference): the player moves at once, and the room
    follows where the player is a network delay later (as the host's session sends it, a little
    off when the player's position was misread)."""
    state = room.latest()
    arrives = now + rng.uniform(0.05, 0.3)
    misread = rng.choice((0.0, rng.uniform(-0.05, 0.05)))
    if state.is_playing:
        action = rng.choice(("pause", "seek", "seek", "speed", "speed"))
    else:
        action = rng.choice(("play", "play", "seek"))
    if action == "pause":
        player.playing = False
        new = dataclasses.replace(state, position=player.position + misread, is_playing=False)
    elif action == "play":
        player.playing = True
        new = dataclasses.replace(state, position=player.position + misread, is_playing=True)
    elif action == "seek":
        player.position = max(0.0, player.position + rng.uniform(-20, 20))
        new = dataclasses.replace(state, position=player.position + misread)
    else:
        # Heard ``latency`` from now: the room changes tempo then, where it gets by then.
        speed = rng.choice(_SPEEDS)
        player.tell_speed(now, speed)
        new = dataclasses.replace(
            state,
            position=state.target_position(at + latency),
            updated_at=at + latency,
            playback_speed=speed,
        )
        room.send(arrives, dataclasses.replace(new, lead_in_speed=None))
        return
    position = max(0.0, new.position)
    room.send(
        arrives, dataclasses.replace(new, position=position, updated_at=at, lead_in_speed=None)
    )


def _run(sc: _Scenario) -> dict[str, Any]:
    rng = random.Random(sc.seed)
    th = SyncThresholds(**sc.overrides)  # type: ignore[arg-type]
    state = PolicyState.initial(th)
    latency = rng.uniform(0.15, 0.45)  # the player's speed latency as its engine learned it
    player = _ToyPlayer(rng, sc.landing, latency + rng.uniform(-0.05, 0.05))
    now = 1000.0
    room = _Room(
        PlaybackState(
            room_id="r", position=0.0, is_playing=True, updated_at=now - rng.uniform(0, 20)
        )
    )
    offset = rng.uniform(-0.05, 0.05)
    hold_until = -math.inf
    recorded = []
    for _ in range(sc.steps):
        dt = th.tick_interval * rng.choice((1.0, 1.0, 1.0, 0.5, 2.0, 0.25, 0.2))
        now += dt
        player.advance(now, dt)
        roll = rng.random()
        if roll < sc.action_rate:
            if sc.reference and rng.random() < 0.7:
                hold_until = now + th.user_hold
                _own_action(rng, room, player, now, now + offset, latency)
            else:
                _host_action(rng, room, now + offset, now)
        elif roll < 0.016 and not player.buffering:
            player.buffering = True
        elif player.buffering and roll > 0.93:
            player.buffering = False
        elif roll < 0.019 and not sc.reference:
            hold_until = now + th.user_hold
            player.position += rng.uniform(-5, 5)
        elif roll < 0.024:
            offset += rng.uniform(-0.03, 0.03)
        elif roll < 0.030:
            player.position += rng.uniform(-0.3, 0.3)  # a decoder hiccup
        elif roll < 0.032:
            player.position += rng.choice((-1, 1)) * rng.uniform(0.9, 2.5)  # a long one
        changed = room.deliver(now)
        if changed:
            hold_until = -math.inf  # the room's answer ends the hold, as in the engine
        server_now = now + offset
        r = room.state
        started = r.has_started(server_now)
        command, switch_in = _command_speed(r, server_now, latency)
        # Inputs to the microsecond: the decisions are made on exactly these values, and the
        # file stays small.
        obs = Observation(
            now=round(now, 6),
            target=round(r.target_position(server_now), 6),
            position=round(player.position, 6),
            room_playing=started,
            room_scheduled=r.is_playing and not started,
            starts_in=round(max(0.0, r.updated_at - server_now), 6),
            room_speed=r.speed_at(server_now) or r.playback_speed,
            command_speed=command,
            command_switch_in=None if switch_in is None else round(switch_in, 6),
            speed_latency=round(latency, 6),
            reference=sc.reference,
            player_playing=player.playing,
            player_speed=round(player.speed, 9),
            seeking=player.seek_left > 0,
            buffering=player.buffering,
            room_changed=changed,
            hold=now < hold_until,
            clock_offset=round(offset, 6),
        )
        state, decision = decide(state, obs, th)
        if decision.reanchor and not room.on_the_way:
            # The host's session moves the room to its player: a seek there, at that time,
            # with no restart.
            moved = dataclasses.replace(
                room.state, position=obs.position, updated_at=server_now, lead_in_speed=None
            )
            room.send(now + rng.uniform(0.05, 0.3), moved)
        player.apply(now, decision)
        recorded.append([_plain(obs), _plain(decision), _plain(state)])
    return {
        "name": sc.name,
        "thresholds": {f.name: getattr(th, f.name) for f in dataclasses.fields(th)},
        "initial_state": _plain(PolicyState.initial(th)),
        "steps": recorded,
    }


def build() -> dict[str, Any]:
    """Every case, as the JSON document the browser's tests read."""
    return {
        "about": "Generated by tests/client/sync_cases.py from watchium_client.sync.decide; "
        "do not edit: run `.venv/bin/python -m tests.client.sync_cases`.",
        "default_thresholds": dataclasses.asdict(SyncThresholds()),
        "fields": {"obs": OBS_FIELDS, "decision": DECISION_FIELDS, "state": STATE_FIELDS},
        "pending_seek_fields": [f.name for f in dataclasses.fields(PendingSeek)],
        "cycle_fields": [f.name for f in dataclasses.fields(TrimCycle)],
        "cases": [_run(scenario) for scenario in SCENARIOS],
    }


def render() -> str:
    return json.dumps(build(), indent=None, separators=(",", ":"), allow_nan=False) + "\n"


def main() -> None:
    CASES_FILE.write_text(render())
    print(f"wrote {CASES_FILE.relative_to(PROJECT_DIR)}")


if __name__ == "__main__":
    main()
