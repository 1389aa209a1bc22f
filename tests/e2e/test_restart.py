"""The whole party survives a restart of the gateway (functions, auth and Realtime at once).

Changes made while the gateway is down are not replayed by Realtime (its replication slot
belongs to the running server), so this is the refetch's real test: the host seeks and a comment
is posted through the database meanwhile, and every session must pick both up when the gateway
is back. The gateway is the session-wide one: ``stack.start()`` brings it back on the same port
before the test ends, so later tests are unaffected.
"""

from __future__ import annotations

import asyncio

import pytest

from tests._pg import TestDatabase
from tests.e2e._party import act_as, new_room, party
from watchium_client import CommentPosted, ConnectionLost, ConnectionRestored
from watchium_stack.harness import Stack

pytestmark = pytest.mark.filterwarnings("ignore:ConnectionClosed.* is deprecated")


async def test_the_party_survives_a_gateway_restart(stack: Stack, database: TestDatabase) -> None:
    async with party(stack) as p:
        host = await p.open("host", new_room())
        room_id = host.session.room_id
        members = [
            await p.open("aiko", room_id, rate_error=0.003, seek_latency=0.12),
            await p.open("ben", room_id, rate_error=-0.004),
        ]
        await host.session.play()
        await p.converged("before the restart")
        marks = {v.name: v.recorder.mark() for v in p.viewers}

        try:
            await asyncio.to_thread(stack.stop)
            for viewer in p.viewers:
                await viewer.recorder.wait_for(ConnectionLost, since=marks[viewer.name])

            # Meanwhile, the host's changes reach the database another way.
            host_id = host.session.user_id
            await asyncio.to_thread(
                act_as,
                database,
                host_id,
                "select public.sync_control(p_room_id => %s, p_action => 'seek', "
                "p_current_time => 500)",
                (room_id,),
            )
            await asyncio.to_thread(
                act_as,
                database,
                members[0].session.user_id,
                "select public.comments_create(p_anime_id => 'frieren', p_episode_number => 1, "
                "p_message => 'posted while you were away', p_username => 'aiko', "
                "p_room_id => %s)",
                (room_id,),
            )
        finally:
            await asyncio.to_thread(stack.start)

        for viewer in p.viewers:
            restored = await viewer.recorder.wait_for(ConnectionRestored, since=marks[viewer.name])
            assert restored.missed_comments >= 1, (viewer.name, restored)
            missed = await viewer.recorder.wait_for(
                CommentPosted,
                lambda e: e.comment.message == "posted while you were away",
                since=marks[viewer.name],
            )
            assert missed.missed
            assert viewer.session.is_connected
        truth = await p.converged("after the restart")
        assert truth.position == 500.0
        await p.server_says_synced("after the restart")
