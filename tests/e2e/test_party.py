"""A host and members in one room through the real stack (functions, auth, Realtime): every
player follows the host's actions within tens of milliseconds, in the engines' view and in truth,
and the server sees them in sync."""

from __future__ import annotations

import asyncio

from tests.e2e._party import SYNCED, new_room, party, until
from watchium_client import (
    CommentPosted,
    GroupWaitPolicy,
    HostChanged,
    MemberJoined,
    MemberLeft,
    NotHost,
    PresenceSynced,
    RoomChanged,
)
from watchium_stack.harness import Stack


async def test_members_follow_play_seek_speed_and_pause(stack: Stack) -> None:
    async with party(stack) as p:
        host = await p.open("host", new_room(), rate_error=0.001, seek_latency=0.03)
        room_id = host.session.room_id
        aiko, ben = await asyncio.gather(
            p.open(
                "aiko",
                room_id,
                rate_error=-0.004,
                seek_latency=0.2,
                seek_latency_jitter=0.05,
                position_noise=0.002,
            ),
            p.open("ben", room_id, rate_error=0.005, speed_latency=0.2, speed_glitch=0.005),
        )
        await until(lambda: all(len(v.session.members) == 3 for v in p.viewers), "all see 3")
        assert {e.member.username for e in host.recorder.of(MemberJoined)} >= {"aiko", "ben"}

        await host.session.play()
        await p.converged("after play")

        chie = await p.open("chie", room_id, rate_error=0.003, seek_latency=0.4)
        await p.converged("after a late join into a playing room")

        await host.session.seek(120.0)
        truth = await p.converged("after a seek")
        assert truth.is_playing and truth.target_position(truth.updated_at) == 120.0

        await host.session.set_speed(1.5)
        truth = await p.converged("after a speed change")
        assert truth.playback_speed == 1.5
        assert all(abs(v.player.speed / 1.5 - 1) <= 0.06 for v in p.viewers)
        await p.server_says_synced("playing at 1.5x")

        # A member's own seek is not the room's: the room wins once the hold ends.
        await ben.player.user_seek(10.0)
        await p.converged("after a member's own seek")

        await host.session.pause()
        truth = await p.truth()
        assert not truth.is_playing
        await until(
            lambda: all(
                not v.player.is_playing and abs(v.true_drift(truth)) <= 0.05 for v in p.viewers
            ),
            "every player is paused at the room's position",
        )
        with_action = [e for e in chie.recorder.of(RoomChanged) if e.playback_changed]
        assert [e.state.is_playing for e in with_action][-1] is False

        # Members are not hosts.
        try:
            await aiko.session.seek(1.0)
        except NotHost:
            pass
        else:
            raise AssertionError("a member's seek was accepted")

        comment = await aiko.session.post_comment("that opening!")
        for viewer in (host, ben, chie):
            posted = await viewer.recorder.wait_for(
                CommentPosted, lambda e: e.comment.id == comment.id, who=viewer.name
            )
            assert not posted.missed and posted.comment.message == "that opening!"


async def test_the_earliest_member_takes_over_when_the_host_leaves(stack: Stack) -> None:
    async with party(stack) as p:
        host = await p.open("host", new_room())
        room_id = host.session.room_id
        first = await p.open("first", room_id, rate_error=0.002)
        second = await p.open("second", room_id, rate_error=-0.002, seek_latency=0.15)
        await host.session.play()
        await p.converged("before the host leaves")
        old_host = host.session.user_id

        await host.session.close()  # leaves: the host role moves to the earliest member
        changed = await first.recorder.wait_for(HostChanged, lambda e: e.is_me)
        assert changed.previous_host_user_id == old_host
        await second.recorder.wait_for(
            HostChanged, lambda e: e.host_user_id == first.session.user_id and not e.is_me
        )
        await second.recorder.wait_for(MemberLeft, lambda e: e.user_id == old_host)
        assert first.session.is_host and not second.session.is_host

        # The new host's session controls the room...
        await first.session.seek(300.0)
        truth = await p.converged("after the new host's seek")
        assert truth.host_user_id == first.session.user_id

        # ...and its player's UI too: a pause in the player pauses the room.
        await first.player.user_pause()
        await until(lambda: not second.player.is_playing, "the other member pauses too")
        truth = await p.truth()
        assert not truth.is_playing
        await until(
            lambda: abs(second.true_drift(truth)) <= 0.05, "the member is at the room position"
        )


async def test_a_buffering_member_does_not_hold_up_the_others(stack: Stack) -> None:
    async with party(stack) as p:
        host = await p.open("host", new_room())
        room_id = host.session.room_id
        steady = await p.open("steady", room_id, rate_error=0.003)
        stalling = await p.open("stalling", room_id, rate_error=-0.002)
        await host.session.play()
        await p.converged("before the stall")

        stalling.player.stall(3.0)
        await host.recorder.wait_for(
            PresenceSynced,
            lambda e: (s := e.presence.get(stalling.session.user_id)) is not None and s.buffering,
        )
        worst = 0.0
        while stalling.player.is_buffering:
            for viewer in (host, steady):
                drift = viewer.engine_drift
                assert drift is not None
                worst = max(worst, abs(drift))
            await asyncio.sleep(0.05)
        assert worst <= SYNCED, f"the others drifted by {worst * 1000:.0f} ms during the stall"
        assert (await p.truth()).is_playing, "the room paused for a stall without group wait"
        await p.converged("after the stall")
        await p.server_says_synced("after the stall")


async def test_group_wait_pauses_for_a_stalled_member_and_resumes(stack: Stack) -> None:
    async with party(stack) as p:
        host = await p.open("host", new_room(), group_wait=GroupWaitPolicy(timeout=10))
        room_id = host.session.room_id
        other = await p.open("other", room_id, rate_error=0.002)
        stalling = await p.open("stalling", room_id, rate_error=-0.003)
        await host.session.play()
        await p.converged("before the stall")

        mark, other_mark = host.recorder.mark(), other.recorder.mark()
        stalling.player.stall(2.0)
        paused = await host.recorder.wait_for(
            RoomChanged, lambda e: e.playback_changed and not e.state.is_playing, since=mark
        )
        await other.recorder.wait_for(
            RoomChanged, lambda e: not e.state.is_playing, since=other_mark
        )
        resumed = await host.recorder.wait_for(
            RoomChanged,
            lambda e: e.state.is_playing and e.previous is not None and not e.previous.is_playing,
            since=mark,
        )
        assert resumed.state.position == paused.state.position, "resumed where it paused"
        assert not stalling.player.is_buffering
        await p.converged("after the group wait")
