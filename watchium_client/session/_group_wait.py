"""Group wait, on the host's side: pausing the room while members buffer.

:class:`~watchium_client.GroupWaitPolicy` decides (with its debounce, timeout and cooldowns);
:class:`GroupWaiter` feeds it the members' buffering flags from presence, whenever presence or
the host changes and at least every ``group_wait_interval``, and carries out its decisions
through the host's own ``pause`` and ``play``. It does nothing while this user is not the host.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from watchium_client._aio import wait_event
from watchium_client._errors import WatchiumError
from watchium_client.session._context import SessionContext
from watchium_client.sync import GroupWaitAction, GroupWaitPolicy, PlaybackState
from watchium_wire import MemberPresence

__all__ = ["GroupWaiter"]

logger = logging.getLogger(__name__)


class GroupWaiter:
    """Runs a :class:`GroupWaitPolicy` for a host.

    Args:
        policy: the decisions.
        ctx: the session's shared facts (clock, interval; the loop ends when the room is gone).
        is_host: whether this user hosts the room now.
        state: the room as last seen.
        presence: everyone tracked on the channel, by user id.
        pause, play: the host's actions.
    """

    def __init__(
        self,
        policy: GroupWaitPolicy,
        ctx: SessionContext,
        *,
        is_host: Callable[[], bool],
        state: Callable[[], PlaybackState | None],
        presence: Callable[[], Mapping[str, MemberPresence]],
        pause: Callable[[], Awaitable[object]],
        play: Callable[[], Awaitable[object]],
    ) -> None:
        self._policy = policy
        self._ctx = ctx
        self._is_host = is_host
        self._state = state
        self._presence = presence
        self._pause = pause
        self._play = play
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Looks again at once (presence or the host changed)."""
        self._wake.set()

    async def run(self) -> None:
        """Decides and acts until the room is gone or the task is cancelled."""
        ctx = self._ctx
        while not ctx.gone:
            await wait_event(self._wake, ctx.timings.group_wait_interval)
            self._wake.clear()
            state = self._state()
            if not self._is_host() or state is None:
                continue
            buffering = {uid: p.buffering for uid, p in self._presence().items()}
            decision = self._policy.update(ctx.clock.local_now(), state.is_playing, buffering)
            try:
                if decision.action is GroupWaitAction.PAUSE:
                    logger.info(
                        "group wait: pausing for %s", ", ".join(sorted(decision.waiting_for))
                    )
                    await self._pause()
                elif decision.action is GroupWaitAction.RESUME:
                    logger.info("group wait: resuming")
                    await self._play()
            except WatchiumError as exc:
                logger.warning("group wait: %s", exc)
