"""The parts of a RoomSession that need no server, each on its own: the event bus, what a host
action sends, presence tracking and group wait (the resync and the heartbeat are in
test_session_resync.py). The fakes stand in for the session's own parts, never for the database
or a client library; tests/e2e runs them all together against the real stack.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

import pytest

from tests.client._fakes import FakeClock
from tests.client._session_parts import context, running, within
from watchium_client.players import PlayerEvent, PlayerEventKind
from watchium_client.session._bus import EventBus
from watchium_client.session._events import ConnectionLost, RoomDeleted, RoomEvent
from watchium_client.session._group_wait import GroupWaiter
from watchium_client.session._presence import PresenceTracker
from watchium_client.session._reference import PlannedChange, plan_change, player_change
from watchium_client.sync import GroupWaitPolicy, PlaybackState
from watchium_wire import MemberPresence

# ---------------------------------------------------------------------- the event bus


async def test_callbacks_run_in_order_and_a_failing_one_does_not_stop_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = EventBus()
    seen: list[tuple[str, str]] = []

    async def slow(event: ConnectionLost) -> None:
        await asyncio.sleep(0)  # the next event waits for it
        seen.append(("slow", event.reason))

    def failing(event: ConnectionLost) -> None:
        raise RuntimeError("a bug in the app")

    bus.on(ConnectionLost, lambda e: seen.append(("first", e.reason)))
    bus.on(ConnectionLost, failing)
    bus.on(ConnectionLost, slow)
    bus.on(RoomDeleted, lambda e: seen.append(("deleted", e.room_id)))
    stream = bus.subscribe()
    with caplog.at_level(logging.ERROR, logger="watchium_client.session._bus"):
        bus.start()
        bus.emit(ConnectionLost("a"))
        bus.emit(RoomDeleted("room1"))
        bus.emit(ConnectionLost("b"))
        await bus.close()

    assert seen == [
        ("first", "a"),
        ("slow", "a"),
        ("deleted", "room1"),
        ("first", "b"),
        ("slow", "b"),
    ]
    assert caplog.text.count("a ConnectionLost callback failed") == 2
    assert "a bug in the app" in caplog.text
    received = [event async for event in stream]
    assert received == [ConnectionLost("a"), RoomDeleted("room1"), ConnectionLost("b")]


async def test_a_closed_bus_publishes_nothing() -> None:
    bus = EventBus()
    seen: list[RoomEvent] = []
    bus.on(ConnectionLost, seen.append)
    bus.start()
    await bus.close()
    bus.emit(ConnectionLost("late"))
    assert seen == []
    assert [event async for event in bus.subscribe()] == []


# ---------------------------------------------------------------------- what a host action sends

NOW = 1010.0
PAUSED = PlaybackState(
    room_id="room1", position=100.0, is_playing=False, updated_at=1000.0, playback_speed=1.5
)
# Playing at 1.5x since 1000: at NOW the room is at 100.0037 + 10 x 1.5 = 115.0037.
PLAYING = PlaybackState(
    room_id="room1", position=100.0037, is_playing=True, updated_at=1000.0, playback_speed=1.5
)


def test_play_starts_a_paused_room_after_the_delay() -> None:
    change = plan_change("play", PAUSED, NOW, delay=0.25)
    assert change == PlannedChange("play", 100.0, None, NOW + 0.25)


def test_play_moves_the_reference_with_the_rounded_position() -> None:
    change = plan_change("play", PAUSED, NOW, position=12.3456, delay=0.25)
    assert change.position == 12.35
    # 12.35 is 4.4 ms ahead of 12.3456: at 1.5x the room gets there 2.9 ms later.
    assert change.at == pytest.approx(NOW + 0.25 + 0.0044 / 1.5)


def test_play_in_a_playing_room_sends_a_bare_play_unless_given_a_position() -> None:
    assert plan_change("play", PLAYING, NOW, delay=0.25) == PlannedChange("play")
    restart = plan_change("play", PLAYING, NOW, position=50.004, delay=0.25)
    assert restart.position == 50.0
    assert restart.at == pytest.approx(NOW + 0.25 - 0.004 / 1.5)


def test_pause_holds_where_the_room_is_now() -> None:
    change = plan_change("pause", PLAYING, NOW, delay=0.25)
    # Paused, the reference time does not move with the rounding, and no delay applies.
    assert change == PlannedChange("pause", 115.0, None, NOW)
    assert plan_change("pause", PLAYING, NOW, position=20.0) == PlannedChange(
        "pause", 20.0, None, NOW
    )


def test_seek_restarts_a_playing_room_after_the_delay_and_moves_a_paused_one_now() -> None:
    playing = plan_change("seek", PLAYING, NOW, position=300.0049, delay=0.6)
    assert playing.position == 300.0
    assert playing.at == pytest.approx(NOW + 0.6 - 0.0049 / 1.5)
    assert plan_change("seek", PAUSED, NOW, position=300.0049, delay=0.6) == PlannedChange(
        "seek", 300.0, None, NOW
    )
    # A player that is paused although the room plays: nothing moves after the seek.
    assert plan_change(
        "seek", PLAYING, NOW, position=300.0, delay=0.6, playing=False
    ) == PlannedChange("seek", 300.0, None, NOW)


def test_speed_changes_tempo_where_the_room_gets_after_the_delay() -> None:
    change = plan_change("speed", PLAYING, NOW, speed=1.333, delay=0.5)
    # At NOW + 0.5 the room is at 115.0037 + 0.75 = 115.7537, stored as 115.75: at the old
    # 1.5x the room gets there 2.5 ms earlier.
    assert (change.action, change.position, change.speed) == ("speed", 115.75, 1.33)
    assert change.at == pytest.approx(NOW + 0.5 - 0.0037 / 1.5)
    # Members take it as the room keeping its tempo until then: a scheduled speed change.
    stored = PlaybackState(
        room_id="room1", position=115.75, is_playing=True, updated_at=change.at or 0.0,
        playback_speed=1.33,
    ).continuing(PLAYING)  # fmt: skip
    assert stored.lead_in_speed == 1.5
    assert stored.target_position(NOW) == pytest.approx(PLAYING.target_position(NOW))
    after = NOW + 1.5 - stored.updated_at
    assert stored.target_position(NOW + 1.5) == pytest.approx(115.75 + after * 1.33)
    assert plan_change("speed", PAUSED, NOW, speed=2.0) == PlannedChange("speed", 100.0, 2.0, NOW)


def test_speed_in_a_room_starting_later_keeps_its_start() -> None:
    starting = dataclasses.replace(PLAYING, position=50.0, updated_at=NOW + 1.0)
    change = plan_change("speed", starting, NOW, speed=2.0, delay=0.25)
    assert change == PlannedChange("speed", 50.0, 2.0, NOW + 1.0)


def event(
    kind: PlayerEventKind, position: float | None = None, value: float | None = None
) -> PlayerEvent:
    return PlayerEvent(kind, at=0.0, position=position, value=value)


def test_an_action_in_the_players_ui_is_the_room_at_the_players_position_now() -> None:
    def change(e: PlayerEvent, playing: bool = True) -> PlannedChange | None:
        return player_change(e, PLAYING, NOW, position=41.0, playing=playing, speed_latency=0.3)

    # The host's player already moved: the room is where it is, now.
    assert change(event(PlayerEventKind.PLAYING)) == PlannedChange("play", 41.0, None, NOW)
    assert change(event(PlayerEventKind.PAUSED)) == PlannedChange("pause", 41.0, None, NOW)
    # After a seek, where the player landed (read after the landing), not where it aimed.
    assert change(event(PlayerEventKind.SEEKED, position=42.0)) == PlannedChange(
        "seek", 41.0, None, NOW
    )
    # A new speed is heard its speed latency later: the room changes tempo then, where it gets
    # by then (115.0037 + 0.3 x 1.5, stored as 115.45, 2.5 ms earlier at the old tempo).
    faster = change(event(PlayerEventKind.SPEED_CHANGED, value=2.0))
    assert faster is not None and (faster.position, faster.speed) == (115.45, 2.0)
    assert faster.at == pytest.approx(NOW + 0.3 - 0.0037 / 1.5)
    assert change(event(PlayerEventKind.SPEED_CHANGED), playing=False) == PlannedChange(
        "speed", 115.0, 1.5, NOW
    )
    assert change(event(PlayerEventKind.BUFFERING_STARTED)) is None


# ---------------------------------------------------------------------- presence


class FakeJoinedChannel:
    """Stands in for the session's RoomChannel: subscribed, counting its subscriptions."""

    def __init__(self) -> None:
        self.tracked: list[dict[str, Any]] = []
        self.subscriptions = 1

    @property
    def joined(self) -> FakeJoinedChannel:
        return self

    async def track(self, user_status: dict[str, Any], /) -> None:
        self.tracked.append(user_status)


def presence_tracker(
    clock: FakeClock, **timings: Any
) -> tuple[PresenceTracker, FakeJoinedChannel, list[MemberPresence], list[float]]:
    channel = FakeJoinedChannel()
    current = [MemberPresence(user_id="u1", username="mio", synced=True)]
    heartbeat_soon: list[float] = []

    async def snapshot() -> MemberPresence:
        return current[0]

    tracker = PresenceTracker(context(clock, **timings), channel, snapshot, heartbeat_soon.append)
    return tracker, channel, current, heartbeat_soon


async def test_presence_is_tracked_once_per_change_and_subscription_never_on_a_timer() -> None:
    clock = FakeClock()
    tracker, channel, current, _ = presence_tracker(clock)
    await tracker.look()
    assert channel.tracked == [
        {"user_id": "u1", "username": "mio", "buffering": False, "synced": True, "host": False}
    ]
    for _ in range(20):  # a minute of steady playback: nothing to tell anyone
        clock.advance(3.0)
        await tracker.look()
    assert len(channel.tracked) == 1

    channel.subscriptions += 1  # subscribed again: presence did not survive it
    await tracker.look()
    await tracker.look()
    assert len(channel.tracked) == 2 and channel.tracked[1] == channel.tracked[0]

    current[0] = current[0].model_copy(update={"host": True})  # shown at once
    await tracker.look()
    assert channel.tracked[-1]["host"] is True and len(channel.tracked) == 3


async def test_a_member_without_a_player_shows_no_sync_status() -> None:
    clock = FakeClock()
    tracker, channel, current, _ = presence_tracker(clock)
    current[0] = MemberPresence(user_id="u1", username="mio")
    await tracker.look()
    assert channel.tracked == [
        {"user_id": "u1", "username": "mio", "buffering": False, "host": False}
    ]


async def test_blips_of_buffering_and_of_sync_show_nothing_longer_ones_do() -> None:
    clock = FakeClock()
    tracker, channel, current, heartbeat_soon = presence_tracker(
        clock, buffering_shown_after=0.5, unsynced_shown_after=5.0
    )
    await tracker.look()
    steady = current[0]

    async def hold(update: dict[str, Any], seconds: float) -> None:
        current[0] = steady.model_copy(update=update)
        end = clock.now + seconds
        while clock.now < end:
            await tracker.look()
            clock.advance(0.25)
        current[0] = steady
        await tracker.look()

    await hold({"buffering": True}, 0.4)  # a blip: the group wait would ignore it too
    await hold({"synced": False}, 4.5)  # a host's seek or a join: realigned within seconds
    assert len(channel.tracked) == 1 and heartbeat_soon == []

    await hold({"buffering": True}, 1.0)
    assert [t["buffering"] for t in channel.tracked[1:]] == [True, False]
    assert heartbeat_soon == [0.0, 2.0]  # the stall reaches the server at once, its end later
    assert not tracker.buffering

    await hold({"synced": False}, 6.0)
    assert [t["synced"] for t in channel.tracked[3:]] == [False, True]


# ---------------------------------------------------------------------- group wait


async def test_group_wait_pauses_for_a_stalled_member_and_resumes_when_it_recovers() -> None:
    clock = FakeClock()
    ctx = context(clock, group_wait_interval=3600.0)
    state = [PlaybackState(room_id="room1", position=10.0, is_playing=True, updated_at=0.0)]
    presence = {"u2": MemberPresence(user_id="u2", username="rin", buffering=True)}
    is_host = [False]
    looks: asyncio.Queue[None] = asyncio.Queue()
    actions: asyncio.Queue[str] = asyncio.Queue()

    def current_state() -> PlaybackState:
        looks.put_nowait(None)
        return state[0]

    async def pause() -> None:
        state[0] = PlaybackState(room_id="room1", position=10.0, is_playing=False, updated_at=1.0)
        actions.put_nowait("pause")

    async def play() -> None:
        actions.put_nowait("play")

    waiter = GroupWaiter(
        GroupWaitPolicy(debounce=0.5, timeout=10.0),
        ctx,
        is_host=lambda: is_host[0],
        state=current_state,
        presence=lambda: presence,
        pause=pause,
        play=play,
    )
    async with running(waiter.run()):
        # Not the host: a stall is none of its business.
        clock.advance(1.0)
        waiter.wake()
        await within(looks.get())
        assert actions.empty()

        is_host[0] = True
        waiter.wake()
        await within(looks.get())
        assert actions.empty()  # a stall that just started may be a blip

        clock.advance(0.6)
        waiter.wake()
        assert await within(actions.get()) == "pause"

        presence["u2"] = MemberPresence(user_id="u2", username="rin", buffering=False)
        waiter.wake()
        assert await within(actions.get()) == "play"
