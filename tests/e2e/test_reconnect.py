"""Nothing is lost when a member drops off: its session refetches the room, the members and the
comments it missed, and its player catches up.

realtime-py reads attributes ``websockets`` has deprecated when a connection drops; under
``filterwarnings = error`` that would kill its reconnect task, so these tests ignore them.
"""

from __future__ import annotations

import asyncio

import pytest

from tests._pg import TestDatabase
from tests.e2e._party import new_room, party, until
from watchium_client import (
    CommentPosted,
    ConnectionLost,
    ConnectionRestored,
    MemberJoined,
    MemberLeft,
)
from watchium_stack.harness import Stack

pytestmark = pytest.mark.filterwarnings("ignore:ConnectionClosed.* is deprecated")


async def test_a_member_whose_connection_drops_gets_what_it_missed(stack: Stack) -> None:
    async with party(stack) as p:
        host = await p.open("host", new_room())
        room_id = host.session.room_id
        poster = await p.open("poster", room_id)
        dropped = await p.open("dropped", room_id, rate_error=0.004, seek_latency=0.1)
        await host.session.play()
        await p.converged("before the drop")

        # Drop the member's socket as a network failure would, and keep it from reconnecting
        # until the others have moved on: realtime-py retries the URL it started with.
        realtime = dropped.session.client.supabase.realtime
        good_url = realtime.url
        realtime.url = good_url.replace(f":{stack.port}/", ":1/", 1)
        mark = dropped.recorder.mark()
        connection = realtime._ws_connection  # test-only: there is no public way to cut it
        assert connection is not None
        connection.transport.abort()
        await dropped.recorder.wait_for(ConnectionLost, since=mark)
        assert not dropped.session.is_connected

        await host.session.seek(200.0)
        comment = await poster.session.post_comment("you missed this")
        late = await p.open("late", room_id)
        realtime.url = good_url

        restored = await dropped.recorder.wait_for(ConnectionRestored, since=mark)
        assert restored.missed_comments >= 1 and not restored.rejoined
        missed = await dropped.recorder.wait_for(
            CommentPosted, lambda e: e.comment.id == comment.id, since=mark
        )
        assert missed.missed
        await dropped.recorder.wait_for(
            MemberJoined, lambda e: e.member.user_id == late.session.user_id, since=mark
        )
        assert dropped.session.is_connected
        truth = await p.converged("after the reconnect")
        assert truth.position == 200.0


async def test_a_member_removed_by_cleanup_joins_again(
    stack: Stack, database: TestDatabase
) -> None:
    async with party(stack) as p:
        host = await p.open("host", new_room())
        room_id = host.session.room_id
        member = await p.open("member", room_id, rate_error=-0.003)
        await host.session.play()
        await p.converged("before the cleanup")

        # The member falls silent for longer than the member timeout, and cleanup runs.
        user = member.session.user_id
        mark, host_mark = member.recorder.mark(), host.recorder.mark()

        def silence_and_clean() -> dict[str, int]:
            with database.connect(autocommit=False) as conn:
                conn.execute(
                    "update public.member_heartbeats "
                    "set last_heartbeat = now() - interval '1 minute' "
                    "where room_id = %s and user_id = %s",
                    (room_id, user),
                )
                conn.commit()
                row = conn.execute("select watchium.cleanup_realtime_data() as counts").fetchone()
                conn.commit()
            assert row is not None
            counts: dict[str, int] = row["counts"]
            return counts

        counts = await asyncio.to_thread(silence_and_clean)
        assert counts["members_removed"] >= 1
        await host.recorder.wait_for(MemberLeft, lambda e: e.user_id == user, since=host_mark)

        restored = await member.recorder.wait_for(ConnectionRestored, since=mark)
        assert restored.rejoined
        await host.recorder.wait_for(
            MemberJoined, lambda e: e.member.user_id == user, since=host_mark
        )
        listed = await host.session.client.members(room_id)
        assert user in {m.user_id for m in listed.members}
        await until(lambda: user in member.session.members, "the member sees itself again")
        await p.converged("after joining again")
