"""Timed replay end to end: a first party watches an episode and comments; an hour later a
second party watches it, and its session hands over the first party's comments as its playback
reaches them, within 100 ms of their video timestamps. A private room's comments are not among
them. Real clients, real gateway, the real database."""

from __future__ import annotations

import time
import uuid

from tests._pg import TestDatabase
from tests.e2e._party import TIMEOUT, until
from watchium_client import NewRoom, RoomSession, TimedComment, WatchiumClient
from watchium_stack.harness import Stack

ON_TIME = 0.100  # seconds between a comment's video timestamp and where playback is when shown


async def test_a_later_party_sees_the_first_partys_comments_on_time(
    stack: Stack, database: TestDatabase
) -> None:
    anime = f"replay-{uuid.uuid4().hex[:8]}"
    stamps = [1.0, 1.55, 2.3, 2.31]
    first = await WatchiumClient.connect(stack.url, stack.anon_key)
    secret_keeper = await WatchiumClient.connect(stack.url, stack.anon_key)
    second = await WatchiumClient.connect(stack.url, stack.anon_key)
    try:
        # The first party: its room, its comments while watching.
        created = await first.create_room(
            title="first",
            anime_id=anime,
            anime_title="Replay",
            username="early",
            video_url="https://example.com/ep1.mkv",
        )
        for stamp in stamps:
            await first.post_comment(
                anime_id=anime,
                episode_number=1,
                room_id=created.room.room_id,
                message=f"at {stamp}",
                username="early",
                video_timestamp=stamp,
            )
        await first.leave_room(created.room.room_id)
        # A private party's comment on the same episode: never replayed to others.
        private = await secret_keeper.create_room(
            title="private",
            anime_id=anime,
            anime_title="Replay",
            username="secret",
            video_url="https://example.com/ep1.mkv",
            is_public=False,
        )
        await secret_keeper.post_comment(
            anime_id=anime,
            episode_number=1,
            room_id=private.room.room_id,
            message="private",
            username="secret",
            video_timestamp=2.0,
        )
        # A global comment (no room) joins the replay too.
        await secret_keeper.post_comment(
            anime_id=anime, episode_number=1, message="at 3.05", username="g", video_timestamp=3.05
        )
        await secret_keeper.leave_room(private.room.room_id)
        # That was an hour ago.
        with database.connect() as conn:
            conn.execute(
                "update comments set created_at = created_at - interval '1 hour' "
                "where anime_id = %s",
                (anime,),
            )

        # The second party, an hour later.
        shown: list[tuple[TimedComment, float]] = []
        session = RoomSession(
            second,
            NewRoom(
                title="second",
                anime_id=anime,
                anime_title="Replay",
                video_url="https://example.com/ep1.mkv",
            ),
            username="late",
        )

        def record(event: TimedComment) -> None:
            # The room's true position now: its row on the server's clock (this machine's).
            state = session.state
            assert state is not None
            shown.append((event, state.target_position(time.time())))

        session.on_timed_comment(record)
        async with session:
            await session.play(position=0.5)
            await until(lambda: len(shown) >= 5, "five timed comments were shown", TIMEOUT)
            await until(
                lambda: (
                    session.state is not None and session.state.target_position(time.time()) > 4.0
                ),
                "playback passed 4 s",
            )
    finally:
        for client in (first, secret_keeper, second):
            await client.close()

    messages = [event.comment.message for event, _ in shown]
    assert messages == ["at 1.0", "at 1.55", "at 2.3", "at 2.31", "at 3.05"]
    assert "private" not in messages
    for event, position in shown:
        assert abs(position - event.comment.video_timestamp) <= ON_TIME, (
            event.comment.message,
            position,
        )
        # The session's own record of where playback was agrees.
        assert abs(event.position - event.comment.video_timestamp) <= ON_TIME
