"""The host acting in its own player, through the real stack: the room becomes where the host's
player is, the members follow, and the host's player is never corrected for its own action."""

from __future__ import annotations

from tests.e2e._party import new_room, party, until
from watchium_client import RoomChanged
from watchium_stack.harness import Stack


async def test_the_hosts_actions_in_its_player_move_the_room_not_the_player(
    stack: Stack,
) -> None:
    async with party(stack) as p:
        host = await p.open(
            "host", new_room(), seek_latency=0.1, speed_latency=0.25, position_noise=0.002
        )
        room_id = host.session.room_id
        await p.open("aiko", room_id, seek_latency=0.2, speed_latency=0.25, rate_error=0.002)
        await p.open("ben", room_id, seek_latency=0.05, speed_latency=0.25, rate_error=-0.002)
        await host.session.play()
        await p.converged("after play")
        engine = host.session.engine
        assert engine is not None
        engine.reset_stats()
        seeks = host.player.seeks

        since = host.recorder.mark()
        await host.player.user_seek(host.player.true_position() + 60.0)
        await host.recorder.wait_for(
            RoomChanged, lambda e: e.playback_changed, since=since, who="host"
        )
        await p.converged("after a seek in the host's player")

        since = host.recorder.mark()
        await host.player.user_set_speed(1.25)
        await host.recorder.wait_for(
            RoomChanged, lambda e: e.state.playback_speed == 1.25, since=since, who="host"
        )
        await p.converged("after a speed change in the host's player")
        # Past the transition window, when the host's player would have been corrected.
        changed_at = engine.policy_state.own_change_at
        clock = host.session.client.clock
        await until(lambda: clock.local_now() > changed_at + 3.5, "the transition is over")

        stats = engine.stats()
        assert (stats.seeks, stats.speed_nudges) == (0, 0), stats
        assert host.player.seeks == seeks + 1  # the user's own
