"""Moderation through the real stack: a kicked member's socket gets nothing of the room any
more, its session stops instead of joining again, and the others play on."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from realtime import AsyncRealtimeClient

from tests.e2e._party import new_room, party, until
from watchium_client import CommentPosted, MemberLeft, RemovedFromRoom, RoomChanged
from watchium_stack.harness import Stack

# realtime-py logs every frame its socket receives, from the socket's listening task.
REALTIME_LOGGER = logging.getLogger("realtime._async.client")
DATA_EVENTS = {"postgres_changes", "broadcast", "presence_diff", "presence_state"}


class SocketTap(logging.Handler):
    """The frames one realtime-py client's socket receives (whatever connection it is on)."""

    def __init__(self, client: AsyncRealtimeClient) -> None:
        super().__init__(logging.DEBUG)
        self._client = client
        self.frames: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            task = asyncio.current_task()
        except RuntimeError:
            return
        if task is None or task is not self._client._listen_task:
            return
        text = record.getMessage()
        if not text.startswith("receive: "):
            return
        raw = text.removeprefix("receive: ")
        frame = json.loads(raw[1:-1] if raw[:1] in "'\"" else raw)
        self.frames.append(frame)


async def test_a_kicked_members_socket_receives_nothing_more(stack: Stack) -> None:
    async with party(stack) as p:
        host = await p.open("host", new_room())
        room_id = host.session.room_id
        kicked = await p.open("kicked", room_id, rate_error=0.002)
        stayer = await p.open("stayer", room_id, rate_error=-0.002)
        await host.session.play()
        await p.converged("before the kick")

        tap = SocketTap(kicked.session.client.supabase.realtime)
        level = REALTIME_LOGGER.level
        REALTIME_LOGGER.setLevel(logging.DEBUG)
        REALTIME_LOGGER.addHandler(tap)
        try:
            host_mark = host.recorder.mark()
            await host.session.client.kick(room_id, kicked.session.user_id, reason="spoilers")
            await host.recorder.wait_for(
                MemberLeft, lambda e: e.user_id == kicked.session.user_id, since=host_mark
            )
            removed = await kicked.recorder.wait_for(RemovedFromRoom)
            assert not removed.banned and removed.retry_after is not None
            # From here on the room goes on without it.
            heard = len(tap.frames)
            events = kicked.recorder.mark()
            stayer_mark = stayer.recorder.mark()
            await host.session.seek(300.0)
            await host.session.post_comment("the ending was great")
            await stayer.recorder.wait_for(
                RoomChanged, lambda e: e.state.position == 300.0, since=stayer_mark
            )
            await stayer.recorder.wait_for(
                CommentPosted,
                lambda e: e.comment.message == "the ending was great",
                since=stayer_mark,
            )
        finally:
            REALTIME_LOGGER.removeHandler(tap)
            REALTIME_LOGGER.setLevel(level)

        assert heard > 0, "the tap saw the kicked member's socket"
        after = [f for f in tap.frames[heard:] if f.get("topic", "").startswith("realtime:room:")]
        assert [f for f in after if f.get("event") in DATA_EVENTS] == [], after
        assert kicked.recorder.events[events:] == []
        listed = await host.session.client.members(room_id)
        assert kicked.session.user_id not in {m.user_id for m in listed.members}


async def test_a_cohost_moves_the_whole_party_with_its_session(stack: Stack) -> None:
    async with party(stack) as p:
        host = await p.open("host", new_room())
        room_id = host.session.room_id
        aiko = await p.open("aiko", room_id, rate_error=0.002)
        await p.open("ben", room_id, rate_error=-0.002)
        await host.session.play()
        await p.converged("before co-host")

        await host.session.client.set_cohost(room_id, aiko.session.user_id)
        await until(lambda: aiko.session.is_cohost, "aiko's session sees it is a co-host")
        await aiko.session.seek(600.0)
        truth = await p.converged("after the co-host's seek")
        assert truth.position == 600.0 and truth.host_user_id == host.session.user_id
        await aiko.session.pause()
        await until(lambda: not host.player.is_playing, "the host's player paused too")
