"""The room's authoritative playback model, as the server stores it.

The room row holds a position and the server time at which it was the position
(``playback_updated_at``), so the live position needs no message from the host:

    position + (server_now - updated_at) * playback_speed      while playing

Times are epoch seconds on the server's clock (floats), everywhere in the sync engine.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from watchium_client.sync._clock import parse_server_time

__all__ = ["PlaybackState"]


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

    def __post_init__(self) -> None:
        if not math.isfinite(self.position) or self.position < 0:
            raise ValueError(f"position must be a finite number >= 0, got {self.position!r}")
        if not math.isfinite(self.playback_speed) or self.playback_speed <= 0:
            raise ValueError(f"playback_speed must be > 0, got {self.playback_speed!r}")
        if not math.isfinite(self.updated_at):
            raise ValueError(f"updated_at must be finite, got {self.updated_at!r}")

    def target_position(self, server_now: float) -> float:
        """Where playback is at ``server_now`` (server epoch seconds); never below 0.

        Before ``updated_at`` (a scheduled start) the position does not move yet.
        """
        if not self.is_playing:
            return self.position
        elapsed = max(0.0, server_now - self.updated_at)
        return max(0.0, self.position + elapsed * self.playback_speed)

    def has_started(self, server_now: float) -> bool:
        """Whether playback is running at ``server_now`` (playing, and a scheduled start passed)."""
        return self.is_playing and server_now >= self.updated_at

    def same_playback(self, other: PlaybackState) -> bool:
        """Whether ``other`` describes the same playback (position, reference time, play state,
        speed and episode): a row update that changes none of these is no host action."""
        return (
            self.position == other.position
            and self.updated_at == other.updated_at
            and self.is_playing == other.is_playing
            and self.playback_speed == other.playback_speed
            and self.episode_number == other.episode_number
        )

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> PlaybackState:
        """Builds the state from a ``public.rooms`` row (a Realtime payload, a PostgREST or RPC
        result): ``room_id``, ``current_playback_time``, ``is_playing``, ``playback_speed``,
        ``playback_updated_at``, ``host_user_id``, ``episode_number``.

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
        )
