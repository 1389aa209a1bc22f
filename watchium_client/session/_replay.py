"""The session's timed replay: :class:`~watchium_client.comments.CommentReplay` on the room's
playhead, its comments published as :class:`TimedComment` events."""

from __future__ import annotations

from collections.abc import Callable

from watchium_client._api import WatchiumClient
from watchium_client.comments import CommentReplay, Playhead, ReplayMode, ReplayTimings
from watchium_client.session._context import SessionContext
from watchium_client.session._events import RoomEvent, TimedComment
from watchium_client.session._mirror import RoomMirror
from watchium_wire import ReplayWindow

__all__ = ["SessionReplay"]


class SessionReplay:
    """Replays the room's episode's timed comments (``mode`` "all" or "room"; "off": nothing)."""

    def __init__(
        self,
        client: WatchiumClient,
        ctx: SessionContext,
        mirror: RoomMirror,
        emit: Callable[[RoomEvent], None],
        *,
        mode: ReplayMode,
        timings: ReplayTimings | None = None,
    ) -> None:
        self.mode = mode
        self._client = client
        self._ctx = ctx
        self._mirror = mirror
        self._emit = emit
        self.replay = CommentReplay(
            self._fetch,
            self.playhead,
            lambda comment, position: emit(TimedComment(comment, position)),
            timings=timings,
            clock=ctx.clock.local_now,
        )

    def playhead(self) -> Playhead | None:
        """The room's playback on the server's clock (what every player follows)."""
        room, state = self._mirror.room, self._mirror.state
        if room is None or state is None:
            return None
        now = self._ctx.clock.server_now()
        rate = state.playback_speed if state.has_started(now) else 0.0
        return Playhead((room.anime_id, room.episode_number), state.target_position(now), rate)

    async def _fetch(self, episode: tuple[str, int], start: float, end: float) -> ReplayWindow:
        anime_id, episode_number = episode
        return await self._client.replay_window(
            anime_id=anime_id,
            episode_number=episode_number,
            start=start,
            end=end,
            room_id=self._ctx.room_id,
            only_room=self.mode == "room",
        )

    async def run(self) -> None:
        if self.mode != "off":
            await self.replay.run()
