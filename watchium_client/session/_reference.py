"""Where a host's playback change puts the room: the position and reference time it sends.

Every host action, whether the app calls ``play``/``pause``/``seek``/``set_speed`` or the host
does it in the player's own UI, is one ``sync_control`` change carrying a position and the server
time at which the room is there. :func:`plan_change` computes that pair for all of them, so they
cannot drift apart:

* **play** starts ``delay`` seconds from now (a scheduled start, so everyone starts together);
  a room already playing is sent a bare ``play`` unless a position is given.
* **pause** holds at the position, now.
* **seek** in a playing room restarts ``delay`` seconds from now (every player lands first);
  in a paused room it just moves the position.
* **speed** in a playing room changes tempo ``delay`` seconds from now, where the room will be
  then (a scheduled speed change: every player is told early enough to be heard changing at
  that instant); in a paused room it applies now.

The position defaults to where the room is at ``now``. :func:`player_change` maps an action made
in the player's UI onto the same function: a pause, play or seek with the position the player
has now (it already moved), a speed change at the instant it will be heard (its speed latency
from now).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from watchium_client.players import PlayerEvent, PlayerEventKind
from watchium_client.sync import PlaybackState

__all__ = ["HostAction", "PlannedChange", "plan_change", "player_change", "storable_reference"]

HostAction = Literal["play", "pause", "seek", "speed"]

# Positions are stored to the hundredth of a second.
_POSITION_DECIMALS = 2
# Speeds are stored to the hundredth.
_SPEED_DECIMALS = 2


def storable_reference(
    position: float, at: float | None, moving_speed: float
) -> tuple[float, float | None]:
    """The position rounded to what the database stores, with its reference time moved so that
    the pair still describes the same playback.

    ``moving_speed`` is the speed at which the position advances after the change (0 when the
    room will be paused). E.g. 12.3456 s at time T while playing at 1x is stored as 12.35 s at
    T + 4.4 ms, instead of being 4.4 ms ahead of where the host really was.
    """
    rounded = round(max(0.0, position), _POSITION_DECIMALS)
    if at is None or moving_speed <= 0:
        return rounded, at
    return rounded, at + (rounded - position) / moving_speed


@dataclass(frozen=True, slots=True)
class PlannedChange:
    """One ``sync_control`` change, as :meth:`HostControls.submit` takes it."""

    action: HostAction
    position: float | None = None
    speed: float | None = None
    at: float | None = None
    """Server time (epoch seconds) at which the room is at ``position``."""


def plan_change(
    action: HostAction,
    state: PlaybackState,
    now: float,
    *,
    position: float | None = None,
    speed: float | None = None,
    delay: float = 0.0,
    playing: bool | None = None,
) -> PlannedChange:
    """The change that applies ``action`` to a room in ``state`` at server time ``now``.

    Args:
        action: what the host does.
        state: the room as last seen.
        now: the server time now.
        position: where to (default: where the room is at ``now``).
        speed: the new speed, for ``speed`` (rounded to the hundredth; default: the room's).
        delay: for ``play``, ``seek`` and ``speed`` while playing: how far ahead the room
            (re)starts or changes tempo.
        playing: whether playback moves after a ``seek`` or ``speed`` (default: whether the
            room plays).
    """
    playing = state.is_playing if playing is None else playing
    new_speed = state.playback_speed if speed is None else round(speed, _SPEED_DECIMALS)
    when = now
    if action == "play":
        if position is None and state.is_playing:
            return PlannedChange("play")
        moving, at = state.playback_speed, now + delay
    elif action == "pause":
        moving, at = 0.0, now
    elif action == "seek":
        moving, at = (state.playback_speed, now + delay) if playing else (0.0, now)
    elif playing and state.is_playing:
        # The room keeps its tempo until the change (never before a scheduled start), and the
        # position is where it gets by then: rounding moves the instant along the old tempo.
        at = max(now + delay, state.updated_at)
        when = at
        moving = state.speed_at(at - 1e-6) or new_speed
    else:
        moving, at = (new_speed if playing else 0.0), now
    target = state.target_position(when) if position is None else position
    stored, reference = storable_reference(target, at, moving)
    return PlannedChange(action, stored, new_speed if action == "speed" else None, reference)


_PLAYER_ACTIONS: dict[PlayerEventKind, HostAction] = {
    PlayerEventKind.PAUSED: "pause",
    PlayerEventKind.PLAYING: "play",
    PlayerEventKind.SEEKED: "seek",
    PlayerEventKind.SPEED_CHANGED: "speed",
}


def player_change(
    event: PlayerEvent,
    state: PlaybackState,
    now: float,
    *,
    position: float,
    playing: bool,
    speed_latency: float = 0.0,
) -> PlannedChange | None:
    """The change for an action the host made in the player's own UI (None for an event that
    is not one).

    Args:
        event: the player's event.
        state: the room as last seen.
        now: the server time at which the player was at ``position``.
        position: where the player is (after a seek, where it landed).
        playing: whether the player plays.
        speed_latency: how long the player takes to apply a speed change: a new speed is heard
            that long after it was set, and so the room's changes then.
    """
    action = _PLAYER_ACTIONS.get(event.kind)
    if action is None:
        return None
    if action == "speed":
        # Heard ``speed_latency`` from now: the room changes tempo then, where it gets by then
        # (a change of tempo, not of position). Not from the player's position: mpv reports its
        # audio clock stepped by the speed latency times the change as soon as it is told, so a
        # position read now may already be that far off where playback is heard.
        return plan_change(
            "speed", state, now, speed=event.value, delay=speed_latency, playing=playing
        )
    # The host's player already moved: no scheduled start, the others catch up.
    return plan_change(action, state, now, position=position, playing=playing)
