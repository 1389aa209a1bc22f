"""A two-episode night through the real stack: the party plays episode 1, the host asks who is
ready for episode 2, one member never answers, the check times out and everyone starts episode 2
together; then the host skips its opening and every player lands on the same frame."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from tests.e2e._party import Party, new_room, party, until
from watchium_client import QueueChanged, ReadyCheckChanged, RoomChanged
from watchium_client.sync import PlaybackState
from watchium_stack.harness import Stack

EPISODE_1 = "https://example.com/frieren/01.mkv"
EPISODE_2 = "https://example.com/frieren/02.mkv"
TIMEOUT = 5.0  # the shortest a ready check may wait


async def test_a_night_moves_to_episode_2_through_a_ready_check(stack: Stack) -> None:
    loaded: dict[str, list[str]] = {}

    def loader(p: Party, name: str) -> Callable[[PlaybackState], Awaitable[None]]:
        """What the app would do: load the room's new video into the player."""

        async def on_episode_change(state: PlaybackState) -> None:
            room = p.by_name(name).session.room
            assert room is not None
            loaded.setdefault(name, []).append(room.video_url)

        return on_episode_change

    async with party(stack) as p:
        host = await p.open("host", new_room(), on_episode_change=loader(p, "host"))
        room_id = host.session.room_id
        client = host.session.client
        first = await client.queue_add(
            room_id, episode_number=1, video_url=EPISODE_1, duration=1440
        )
        await client.queue_add(
            room_id, episode_number=2, video_url=EPISODE_2, duration=1440, opening=(60.0, 150.0)
        )
        await client.queue_go(room_id, "entry", entry_id=first.entry.id)
        # chiyo stepped away: her session follows the room but never answers a ready check.
        for name, rate_error, auto_ready in (
            ("aiko", 0.002, True),
            ("ben", -0.002, True),
            ("chiyo", 0.001, False),
        ):
            viewer = await p.open(
                name,
                room_id,
                rate_error=rate_error,
                on_episode_change=loader(p, name),
                auto_ready=auto_ready,
            )
            await viewer.recorder.wait_for(QueueChanged, lambda e: len(e.entries) == 2, who=name)
        await host.session.play()
        await p.converged("playing episode 1")

        marks = {v.name: v.recorder.mark() for v in p.viewers}
        check = await host.session.start_ready_check("next", timeout=TIMEOUT)
        assert (check.status, check.expected_count) == ("open", 4)

        # Everyone is asked; the three who are there load episode 2 and answer by themselves,
        # and every member sees the check fill while it is open.
        for viewer in p.viewers:
            await viewer.recorder.wait_for(
                ReadyCheckChanged,
                lambda e: e.check.status == "open" and e.check.ready_count == 3,
                since=marks[viewer.name],
                who=viewer.name,
            )
        assert {name: urls[-1] for name, urls in loaded.items()} == {
            name: EPISODE_2 for name in ("host", "aiko", "ben", "chiyo")
        }
        truth = await p.truth()
        assert (truth.episode_number, truth.position, truth.is_playing) == (2, 0.0, False)

        # chiyo never answers: at the deadline the room starts without her, for everyone.
        ended = [
            await v.recorder.wait_for(
                ReadyCheckChanged,
                lambda e: e.check.status != "open",
                since=marks[v.name],
                who=v.name,
            )
            for v in p.viewers
        ]
        assert {e.check.status for e in ended} == {"timed_out"}
        chiyo = p.by_name("chiyo").session.user_id
        assert chiyo not in ended[0].check.ready_user_ids
        assert ended[0].check.ready_count == 3
        started = time.monotonic()
        truth = await p.converged("playing episode 2 after the ready check")
        converged_after = time.monotonic() - started
        assert truth.episode_number == 2 and truth.is_playing
        print(f"\nready check timed out -> all within 100 ms of the room: {converged_after:.2f} s")

        # Skip together: in the opening, one action moves every player past it, all landing on
        # the same frame and starting at the same instant.
        await host.session.seek(70.0)
        await p.converged("in episode 2's opening")
        marks = {v.name: v.recorder.mark() for v in p.viewers}
        skipped = await host.session.skip()
        assert (skipped.skipped, skipped.to) == ("opening", 150.0)
        for viewer in p.viewers:
            await viewer.recorder.wait_for(
                RoomChanged,
                lambda e: e.playback_changed and e.state.position == 150.0,
                since=marks[viewer.name],
                who=viewer.name,
            )
        truth = await p.converged("after skipping the opening")
        assert truth.position == 150.0 and truth.is_playing
        await until(
            lambda: all(v.player.true_position() > 150.0 for v in p.viewers),
            "every player plays on from the opening's end",
        )

        # A check for this episode that everyone answers: it passes the moment the last one
        # (chiyo, by hand this time) is ready, long before its deadline.
        marks = {v.name: v.recorder.mark() for v in p.viewers}
        check = await host.session.start_ready_check("none", timeout=300)
        chiyo_session = p.by_name("chiyo").session
        await until(
            lambda: (
                chiyo_session.ready_check is not None
                and chiyo_session.ready_check.check_id == check.check_id
            ),
            "chiyo sees the new check",
        )
        await chiyo_session.ready()
        for viewer in p.viewers:
            await viewer.recorder.wait_for(
                ReadyCheckChanged,
                lambda e: e.check.check_id == check.check_id and e.check.status == "passed",
                since=marks[viewer.name],
                who=viewer.name,
            )
        truth = await p.converged("playing on after everyone was ready")
        assert truth.episode_number == 2 and truth.is_playing
