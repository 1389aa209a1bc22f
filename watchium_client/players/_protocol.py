"""The interface the sync engine drives: a media player, its events and its errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

__all__ = [
    "Player",
    "PlayerClosedError",
    "PlayerError",
    "PlayerEvent",
    "PlayerEventKind",
]


class PlayerError(Exception):
    """A player could not do what was asked (the message says what to fix)."""


class PlayerClosedError(PlayerError):
    """The player is closed or its process is gone."""


class PlayerEventKind(StrEnum):
    """What happened in a player without the engine asking for it."""

    PAUSED = "paused"
    """The user paused in the player's own UI."""
    PLAYING = "playing"
    """The user resumed in the player's own UI."""
    SEEKED = "seeked"
    """The user seeked in the player's own UI."""
    SPEED_CHANGED = "speed_changed"
    """The user changed the speed in the player's own UI."""
    BUFFERING_STARTED = "buffering_started"
    BUFFERING_ENDED = "buffering_ended"
    END_OF_FILE = "end_of_file"
    CLOSED = "closed"
    """The player went away (the user quit it, or it crashed); no event follows."""


_USER_ACTIONS = frozenset(
    {
        PlayerEventKind.PAUSED,
        PlayerEventKind.PLAYING,
        PlayerEventKind.SEEKED,
        PlayerEventKind.SPEED_CHANGED,
    }
)


@dataclass(frozen=True, slots=True)
class PlayerEvent:
    """One player event.

    ``position`` is the playback position when the event happened (when known), ``value`` the new
    speed for SPEED_CHANGED, and ``at`` the time on the player's clock.
    """

    kind: PlayerEventKind
    at: float
    position: float | None = None
    value: float | None = None

    @property
    def is_user_action(self) -> bool:
        """Whether someone acted in the player's UI (pause, play, seek, speed)."""
        return self.kind in _USER_ACTIONS


@runtime_checkable
class Player(Protocol):
    """A media player the sync engine can drive.

    Commands take effect as soon as the player can apply them. A seek may land later:
    ``is_seeking`` is true from the call until the new position is playing (or shown, if paused).
    ``events()`` reports only what the engine did not ask for: actions in the player's own UI,
    buffering, end of file, and the player going away.

    Every method may raise `PlayerError` (and `PlayerClosedError` once the player is gone).
    """

    @property
    def is_playing(self) -> bool:
        """Whether playback is requested to run (not paused); true while buffering too."""
        ...

    @property
    def speed(self) -> float:
        """The playback speed last set (1.0 is normal speed)."""
        ...

    @property
    def is_buffering(self) -> bool:
        """Whether playback is stalled waiting for data."""
        ...

    @property
    def is_seeking(self) -> bool:
        """Whether a seek is in flight (requested and not yet landed)."""
        ...

    async def position(self) -> float:
        """The current playback position in seconds."""
        ...

    async def play(self) -> None:
        """Resumes playback."""
        ...

    async def pause(self) -> None:
        """Pauses playback."""
        ...

    async def seek(self, seconds: float) -> None:
        """Starts a seek to an absolute position in seconds."""
        ...

    async def set_speed(self, rate: float) -> None:
        """Sets the playback speed (pitch is preserved where the player supports it)."""
        ...

    def events(self) -> AsyncIterator[PlayerEvent]:
        """A new subscription to the player's events; it ends after CLOSED."""
        ...

    async def close(self) -> None:
        """Releases the player (and stops its process, if it started one)."""
        ...
