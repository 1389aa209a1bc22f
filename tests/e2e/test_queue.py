"""The episode queue through the real stack: a party plays episode 1, the room moves to
episode 2 by itself when it ends, every session loads it through its on_episode_change hook,
and the party plays on together."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tests.e2e._party import Party, new_room, party, until
from watchium_client import QueueChanged
from watchium_client.sync import PlaybackState
from watchium_stack.harness import Stack

EPISODE_1 = "https://example.com/frieren/01.mkv"
EPISODE_2 = "https://example.com/frieren/02.mkv"


async def test_a_party_moves_to_the_next_episode_together(stack: Stack) -> None:
    loaded: dict[str, list[tuple[int, str]]] = {}

    def loader(p: Party, name: str) -> Callable[[PlaybackState], Awaitable[None]]:
        """What the app would do: load the room's new video into the player."""

        async def on_episode_change(state: PlaybackState) -> None:
            room = p.by_name(name).session.room
            assert room is not None
            loaded.setdefault(name, []).append((state.episode_number, room.video_url))

        return on_episode_change

    async with party(stack) as p:
        host = await p.open("host", new_room(), on_episode_change=loader(p, "host"))
        room_id = host.session.room_id
        client = host.session.client
        first = await client.queue_add(
            room_id, episode_number=1, video_url=EPISODE_1, duration=4.0, title="The Journey's End"
        )
        await client.queue_add(
            room_id, episode_number=2, video_url=EPISODE_2, duration=1440.0, title="Priest"
        )
        for name, rate_error in (("aiko", 0.002), ("ben", -0.002)):
            viewer = await p.open(
                name, room_id, rate_error=rate_error, on_episode_change=loader(p, name)
            )
            await viewer.recorder.wait_for(QueueChanged, lambda e: len(e.entries) == 2)
            assert [e.episode_number for e in viewer.session.queue] == [1, 2]

        await client.queue_go(room_id, "entry", entry_id=first.entry.id)
        await client.queue_auto_advance(room_id, True)
        await until(
            lambda: all(
                v.session.current_entry is not None
                and v.session.current_entry.id == first.entry.id
                and v.session.room is not None
                and v.session.room.auto_advance
                for v in p.viewers
            ),
            "every session is on episode 1 with auto-advance",
        )
        await host.session.play()
        await p.converged("playing episode 1")

        # Episode 1 ends after 4 s: the room moves to episode 2, paused at its start, and every
        # session's hook is asked to load it.
        await until(lambda: len(loaded) == 3, "every session loaded episode 2")
        assert {name: calls[-1] for name, calls in loaded.items()} == {
            name: (2, EPISODE_2) for name in ("host", "aiko", "ben")
        }
        truth = await p.truth()
        assert (truth.episode_number, truth.position, truth.is_playing) == (2, 0.0, False)
        for viewer in p.viewers:
            assert viewer.session.current_entry is not None
            assert viewer.session.current_entry.title == "Priest"

        await host.session.play()
        truth = await p.converged("playing episode 2")
        assert truth.episode_number == 2

        # A removal reaches every member as it happens.
        marks = {v.name: v.recorder.mark() for v in p.viewers}
        await client.queue_remove(room_id, first.entry.id)
        for viewer in p.viewers:
            await viewer.recorder.wait_for(
                QueueChanged,
                lambda e: [x.episode_number for x in e.entries] == [2],
                since=marks[viewer.name],
            )
