"""Reaction counts reach every member live, once per real change: a reaction already there
sends nothing. Real sessions over the real gateway and Realtime."""

from __future__ import annotations

from tests.e2e._party import Recorder
from watchium_client import NewRoom, ReactionsChanged, RoomSession, WatchiumClient
from watchium_stack.harness import Stack


async def test_counts_reach_the_room_once_per_change(stack: Stack) -> None:
    host_client = await WatchiumClient.connect(stack.url, stack.anon_key)
    fan_client = await WatchiumClient.connect(stack.url, stack.anon_key)
    try:
        host = RoomSession(
            host_client,
            NewRoom(
                title="reactions",
                anime_id="frieren",
                anime_title="Frieren",
                video_url="https://example.com/ep1.mkv",
            ),
            username="host",
            replay="off",
        )
        async with host:
            fan = RoomSession(fan_client, host.room_id, username="fan", replay="off")
            async with fan:
                seen = Recorder(host)
                comment = await host_client.post_comment(
                    anime_id="frieren",
                    episode_number=1,
                    room_id=host.room_id,
                    message="what a scene",
                    username="host",
                )
                first = await fan_client.react(comment.id, "👍")
                again = await fan_client.react(comment.id, "👍")  # already there: no change
                await fan_client.react(comment.id, "🔥")
                latest = await seen.wait_for(
                    ReactionsChanged, lambda e: e.counts == {"👍": 1, "🔥": 1}, who="host"
                )
                assert first.changed and not again.changed
                assert latest.comment_id == comment.id and latest.total == 2
                # Two changes, two events: the repeated reaction sent nothing.
                assert [e.counts for e in seen.of(ReactionsChanged)] == [
                    {"👍": 1},
                    {"👍": 1, "🔥": 1},
                ]
    finally:
        await host_client.close()
        await fan_client.close()
