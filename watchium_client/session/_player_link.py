"""A session's player, if it has one, and the sync engine that keeps it on the room.

A session without a player only follows the room; every question about the player (its position,
whether it plays or buffers, the engine's status) has an answer either way here, so the rest of
the session never checks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from watchium_client.players import Player, PlayerError, PlayerEvent
from watchium_client.sync import (
    ClockSync,
    PlaybackState,
    RoomReference,
    SyncEngine,
    SyncStatus,
    SyncThresholds,
)

__all__ = ["PlayerLink"]


class PlayerLink:
    """The player and, once started, its engine.

    Args:
        player: the player to keep in step (None: no player, no engine).
        clock: the session's server clock.
        thresholds: the engine's tunables.
        on_episode_change: awaited when the room moves to another episode, before aligning.
    """

    def __init__(
        self,
        player: Player | None,
        clock: ClockSync,
        *,
        thresholds: SyncThresholds | None,
        on_episode_change: Callable[[PlaybackState], Awaitable[None]] | None,
    ) -> None:
        self.player = player
        self.engine: SyncEngine | None = None
        """The engine driving the player (None without a player, or before ``start``)."""
        self._clock = clock
        self._thresholds = thresholds
        self._on_episode_change = on_episode_change

    def start(
        self,
        state: PlaybackState | None,
        on_user_action: Callable[[PlayerEvent], None],
        reference: RoomReference | None = None,
    ) -> None:
        """Starts the engine on the room's ``state``; ``on_user_action`` gets what the user does
        in the player's own UI; ``reference`` says when the player is the room's reference."""
        if self.player is None:
            return
        self.engine = SyncEngine(
            self.player,
            self._clock,
            thresholds=self._thresholds,
            on_user_action=on_user_action,
            on_episode_change=self._on_episode_change,
            reference=reference,
        )
        if state is not None:
            self.engine.update_room(state)
        self.engine.start()

    def follow(self, state: PlaybackState) -> None:
        """A newer room state (the session takes rows in the order they were written)."""
        if self.engine is not None:
            self.engine.update_room(state, ordered=True)

    async def stop(self) -> None:
        """Stops the engine; the player stays open."""
        if self.engine is not None:
            await self.engine.stop()

    @property
    def status(self) -> SyncStatus | None:
        return None if self.engine is None else self.engine.status

    async def report(self) -> tuple[float | None, bool | None]:
        """The player's position and whether it buffers (None, None without a player or when
        it does not answer)."""
        if self.player is None:
            return None, None
        try:
            return await self.player.position(), self.player.is_buffering
        except PlayerError:
            return None, None
