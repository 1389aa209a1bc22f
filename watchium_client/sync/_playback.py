"""The room's authoritative playback model, as the server stores it.

The room row holds a position and the server time at which it was the position
(``playback_updated_at``), so the live position needs no message from the host:

    position + (server_now - updated_at) * playback_speed      while playing

Times are epoch seconds on the server's clock (floats), everywhere in the sync engine.

A reference time in the future while playing is either a *scheduled start* (the room holds at
the position until then: a play, or a seek restarting everyone at once) or a *scheduled speed
change* (the room keeps moving at its previous speed and reaches the position at that time, then
moves at the new speed: everyone changes tempo at the same instant). The row alone cannot tell
them apart; the state it follows can: :meth:`PlaybackState.continuing`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from watchium_client.sync._clock import parse_server_time

__all__ = ["PlaybackState"]

# A state continues the one before it when the earlier one reaches its position at its reference
# time to within this. A host's speed change continues the room exactly (up to the rounding of
# the stored position, which moves the reference time along the old speed); the slack is for a
# host that planned it from a slightly older view of the room, and a restart this close to where
# the room would be anyway changes nothing worth holding playback for.
_CONTINUES = 0.1


def _number(row: Mapping[str, Any], key: str, default: float | None = None) -> float:
    value = row.get(key)
    if value is None:
        if default is None:
            raise ValueError(f"room row has no {key!r}")
        return default
    # PostgREST sends numeric columns as JSON numbers; a direct database read gives Decimal,
    # and some JSON encoders send numerics as strings.
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise ValueError(f"room row {key!r} is not a number: {value!r}")
    try:
        return float(value)
    except ValueError as exc:
        raise ValueError(f"room row {key!r} is not a number: {value!r}") from exc


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackState:
    """A room's playback state: where playback was at server time ``updated_at``.

    Raises (on construction):
        ValueError: a negative or non-finite position, a non-positive speed, or a non-finite time.
    """

    room_id: str
    position: float
    """Playback position in seconds at ``updated_at``."""
    is_playing: bool
    updated_at: float
    """Server time (epoch seconds) at which ``position`` was the position. A time in the future
    while playing means a scheduled start: playback holds at ``position`` until then."""
    playback_speed: float = 1.0
    host_user_id: str = ""
    episode_number: int = 1
    video_url: str = ""
    """The room's video ("" when the row read did not carry it)."""
    lead_in_speed: float | None = None
    """While playing, before ``updated_at``: None holds at ``position`` (a scheduled start); a
    speed keeps the room moving at it, reaching ``position`` at ``updated_at`` (a scheduled speed
    change). Not part of the row: see `continuing`."""

    def __post_init__(self) -> None:
        if not math.isfinite(self.position) or self.position < 0:
            raise ValueError(f"position must be a finite number >= 0, got {self.position!r}")
        if not math.isfinite(self.playback_speed) or self.playback_speed <= 0:
            raise ValueError(f"playback_speed must be > 0, got {self.playback_speed!r}")
        if not math.isfinite(self.updated_at):
            raise ValueError(f"updated_at must be finite, got {self.updated_at!r}")
        lead_in = self.lead_in_speed
        if lead_in is not None and not (math.isfinite(lead_in) and lead_in > 0):
            raise ValueError(f"lead_in_speed must be > 0, got {lead_in!r}")

    def target_position(self, server_now: float) -> float:
        """Where playback is at ``server_now`` (server epoch seconds); never below 0.

        Before ``updated_at`` the position does not move yet (a scheduled start), or moves at
        ``lead_in_speed`` towards it (a scheduled speed change).
        """
        if not self.is_playing:
            return self.position
        elapsed = server_now - self.updated_at
        if elapsed < 0:
            if self.lead_in_speed is None:
                return self.position
            return max(0.0, self.position + elapsed * self.lead_in_speed)
        return max(0.0, self.position + elapsed * self.playback_speed)

    def has_started(self, server_now: float) -> bool:
        """Whether playback is running at ``server_now`` (playing, and a scheduled start passed;
        during the lead-in of a scheduled speed change it runs)."""
        if not self.is_playing:
            return False
        return server_now >= self.updated_at or self.lead_in_speed is not None

    def speed_at(self, server_now: float) -> float:
        """The speed the room moves at ``server_now`` (0 while paused or before a scheduled
        start)."""
        if not self.has_started(server_now):
            return 0.0
        if server_now < self.updated_at and self.lead_in_speed is not None:
            return self.lead_in_speed
        return self.playback_speed

    def continuing(self, previous: PlaybackState) -> PlaybackState:
        """This state, taken right after ``previous``: a scheduled speed change when both play
        and ``previous`` reaches this position at this reference time, give or take 100 ms (it
        keeps moving until then), else unchanged (a future reference time is then a scheduled
        start)."""
        if not (
            self.is_playing
            and previous.is_playing
            and previous.room_id == self.room_id
            and previous.same_episode(self)
            and self.lead_in_speed is None
        ):
            return self
        # Just before the new reference time, the previous state must be moving.
        before = self.updated_at - 1e-6
        speed = previous.speed_at(before)
        if speed <= 0 or abs(previous.target_position(self.updated_at) - self.position) > (
            _CONTINUES
        ):
            return self
        return replace(self, lead_in_speed=speed)

    def same_episode(self, other: PlaybackState) -> bool:
        """Whether ``other`` plays the same episode: the same number and, when both rows carry
        it, the same video (a queue may hold episode 1 of two anime)."""
        return self.episode_number == other.episode_number and (
            not self.video_url or not other.video_url or self.video_url == other.video_url
        )

    def same_playback(self, other: PlaybackState) -> bool:
        """Whether ``other`` describes the same playback (position, reference time, play state,
        speed and episode): a row update that changes none of these is no host action. The
        lead-in is not compared: it is what a client made of the row, not part of it."""
        return (
            self.position == other.position
            and self.updated_at == other.updated_at
            and self.is_playing == other.is_playing
            and self.playback_speed == other.playback_speed
            and self.same_episode(other)
        )

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> PlaybackState:
        """Builds the state from a ``public.rooms`` row (a Realtime payload, a PostgREST or RPC
        result): ``room_id``, ``current_playback_time``, ``is_playing``, ``playback_speed``,
        ``playback_updated_at``, ``host_user_id``, ``episode_number``, ``video_url``.

        Raises:
            ValueError: a column is missing or malformed.
        """
        try:
            room_id = str(row["room_id"])
            updated_at = parse_server_time(row["playback_updated_at"])
        except KeyError as exc:
            raise ValueError(f"room row has no {exc.args[0]!r}") from exc
        except TypeError as exc:
            raise ValueError(f"room row playback_updated_at: {exc}") from exc
        is_playing = row.get("is_playing")
        if not isinstance(is_playing, bool):
            raise ValueError(f"room row 'is_playing' is not a boolean: {is_playing!r}")
        episode = row.get("episode_number", 1)
        if isinstance(episode, bool) or not isinstance(episode, int):
            raise ValueError(f"room row 'episode_number' is not an integer: {episode!r}")
        return cls(
            room_id=room_id,
            position=_number(row, "current_playback_time"),
            is_playing=is_playing,
            updated_at=updated_at,
            playback_speed=_number(row, "playback_speed", 1.0),
            host_user_id=str(row.get("host_user_id") or ""),
            episode_number=episode,
            video_url=str(row.get("video_url") or ""),
        )
