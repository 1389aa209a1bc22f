"""The parts of a RoomSession that need no server, each on its own: the event bus, what a host
action sends, the resync's retry policy and loss reporting, the heartbeat's schedule, presence
tracking and group wait. The fakes stand in for the session's own parts (the reads of a resync,
the channel), never for the database or a client library; tests/e2e runs them all together
against the real stack.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import pytest

from tests.client._fakes import FakeClock
from watchium_client._errors import (
    ConnectionFailed,
    Forbidden,
    NotMember,
    RateLimited,
    RoomNotFound,
    ServerError,
    WatchiumError,
)
from watchium_client.players import PlayerEvent, PlayerEventKind
from watchium_client.session._bus import EventBus
from watchium_client.session._context import SessionContext, SessionTimings
from watchium_client.session._events import (
    ConnectionLost,
    ConnectionRestored,
    RoomDeleted,
    RoomEvent,
)
from watchium_client.session._group_wait import GroupWaiter
from watchium_client.session._heartbeat import Heartbeat
from watchium_client.session._presence import PresenceTracker
from watchium_client.session._reference import PlannedChange, plan_change, player_change
from watchium_client.session._resync import Resync
from watchium_client.sync import ClockSync, GroupWaitPolicy, PlaybackState
from watchium_wire import MemberPresence

T = TypeVar("T")

WAIT = 10.0  # generous: the machine is shared; a broken part never gets there anyway


async def within(awaitable: Awaitable[T], timeout: float = WAIT) -> T:
    async with asyncio.timeout(timeout):
        return await awaitable


@contextlib.asynccontextmanager
async def running(coro: Any) -> AsyncIterator[asyncio.Task[None]]:
    task: asyncio.Task[None] = asyncio.create_task(coro)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def context(clock: FakeClock | None = None, **timings: Any) -> SessionContext:
    sync = ClockSync() if clock is None else ClockSync(monotonic=clock, wall=lambda: 0.0)
    return SessionContext(sync, SessionTimings(**timings), room_id="room1")


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


def test_speed_continues_from_where_the_room_is_at_the_new_speed() -> None:
    change = plan_change("speed", PLAYING, NOW, speed=1.333)
    assert (change.action, change.position, change.speed) == ("speed", 115.0, 1.33)
    assert change.at == pytest.approx(NOW - 0.0037 / 1.33)
    assert plan_change("speed", PAUSED, NOW, speed=2.0) == PlannedChange("speed", 100.0, 2.0, NOW)


def event(
    kind: PlayerEventKind, position: float | None = None, value: float | None = None
) -> PlayerEvent:
    return PlayerEvent(kind, at=0.0, position=position, value=value)


def test_an_action_in_the_players_ui_is_the_same_change_with_no_delay() -> None:
    def change(e: PlayerEvent, playing: bool = True) -> PlannedChange | None:
        return player_change(e, PLAYING, NOW, position=41.0, playing=playing)

    # The host's player already runs: the room plays from its position now.
    assert change(event(PlayerEventKind.PLAYING)) == PlannedChange("play", 41.0, None, NOW)
    assert change(event(PlayerEventKind.PAUSED)) == PlannedChange("pause", 41.0, None, NOW)
    # A seek's own target wins over the position read afterwards.
    assert change(event(PlayerEventKind.SEEKED, position=42.0)) == PlannedChange(
        "seek", 42.0, None, NOW
    )
    assert change(event(PlayerEventKind.SEEKED)) == PlannedChange("seek", 41.0, None, NOW)
    assert change(event(PlayerEventKind.SPEED_CHANGED, value=2.0)) == PlannedChange(
        "speed", 41.0, 2.0, NOW
    )
    assert change(event(PlayerEventKind.SPEED_CHANGED), playing=False) == PlannedChange(
        "speed", 41.0, 1.5, NOW
    )
    assert change(event(PlayerEventKind.BUFFERING_STARTED)) is None


# ---------------------------------------------------------------------- resync


class FakeReader:
    """The reads of a resync, answering from a script."""

    def __init__(
        self,
        *,
        room_failures: list[WatchiumError] | None = None,
        member_answers: list[bool] | None = None,
        rejoin_error: WatchiumError | None = None,
        missed: int = 0,
    ) -> None:
        self.room_failures = list(room_failures or [])
        self.member_answers = list(member_answers or [])
        self.rejoin_error = rejoin_error
        self.missed = missed
        self.calls: list[str] = []

    async def rejoin(self) -> None:
        self.calls.append("rejoin")
        if self.rejoin_error is not None:
            raise self.rejoin_error

    async def fetch_room(self) -> None:
        self.calls.append("room")
        if self.room_failures:
            raise self.room_failures.pop(0)

    async def fetch_members(self) -> bool:
        self.calls.append("members")
        return self.member_answers.pop(0) if self.member_answers else True

    async def fetch_comments(self) -> int:
        self.calls.append("comments")
        return self.missed


class Recorded:
    """What a resync reports, and the pauses it asked for (without waiting them)."""

    def __init__(self) -> None:
        self.events: list[RoomEvent] = []
        self.delays: list[float] = []
        self.synced = 0
        self._changed = asyncio.Event()

    def emit(self, event: RoomEvent) -> None:
        self.events.append(event)
        self._changed.set()

    async def sleep(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)

    def on_synced(self) -> None:
        self.synced += 1
        self._changed.set()

    async def until(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(WAIT):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()


def resync_for(
    reader: FakeReader, recorded: Recorded, ctx: SessionContext, subscribed: list[bool]
) -> Resync:
    return Resync(
        reader,
        ctx,
        recorded.emit,
        is_subscribed=lambda: subscribed[0],
        on_synced=recorded.on_synced,
        sleep=recorded.sleep,
    )


async def test_no_answer_is_retried_with_a_growing_pause_and_reported_once() -> None:
    down = ConnectionFailed("refused")
    reader = FakeReader(room_failures=[down] * 6, missed=3)
    recorded = Recorded()
    resync = resync_for(reader, recorded, context(retry_max=5.0), [True])
    async with running(resync.run()):
        resync.request("subscribed")
        await recorded.until(lambda: recorded.synced == 1)
        assert recorded.delays == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
        lost = "the functions do not answer: refused"
        assert recorded.events == [ConnectionLost(lost), ConnectionRestored(lost, False, 3)]
        assert resync.lost is None and resync.error is None

        # A success starts the pauses again from the shortest.
        reader.room_failures = [ServerError("boom")]
        resync.request("subscribed")
        await recorded.until(lambda: recorded.synced == 2)
        assert recorded.delays[-1] == 0.5


async def test_a_rate_limit_is_waited_out_without_growing_the_pause() -> None:
    reader = FakeReader(
        room_failures=[
            ConnectionFailed("refused"),
            RateLimited("slow down", details={"retry_after": 2.5}),
            Forbidden("not now"),
        ]
    )
    recorded = Recorded()
    resync = resync_for(reader, recorded, context(), [True])
    async with running(resync.run()):
        resync.request("subscribed")
        await recorded.until(lambda: recorded.synced == 1)
    assert recorded.delays == [0.5, 2.5, 1.0]
    # Only "no answer" is a loss; a refusal is logged and retried.
    assert [type(e) for e in recorded.events] == [ConnectionLost, ConnectionRestored]


async def test_a_loss_ends_only_once_subscribed_with_every_comment_missed_meanwhile() -> None:
    reader = FakeReader(room_failures=[ConnectionFailed("refused")], missed=2)
    recorded = Recorded()
    subscribed = [False]
    resync = resync_for(reader, recorded, context(), subscribed)
    async with running(resync.run()):
        resync.request("the functions answer again")
        await recorded.until(lambda: recorded.synced == 1)
        assert [type(e) for e in recorded.events] == [ConnectionLost]
        assert resync.lost is not None

        subscribed[0] = True
        resync.request("subscribed")
        await recorded.until(lambda: recorded.synced == 2)
    restored = recorded.events[-1]
    assert isinstance(restored, ConnectionRestored)
    assert restored.missed_comments == 4  # both refetches' comments


async def test_a_member_missing_from_the_list_joins_again_and_says_so() -> None:
    reader = FakeReader(member_answers=[False, True])
    recorded = Recorded()
    resync = resync_for(reader, recorded, context(), [True])
    async with running(resync.run()):
        resync.request("subscribed")
        await recorded.until(lambda: recorded.synced == 1)
    assert reader.calls == ["room", "members", "rejoin", "members", "comments"]
    assert recorded.events == [ConnectionRestored("subscribed", True, 0)]
    assert not resync.needs_rejoin


async def test_a_rejoin_that_finds_no_room_ends_the_session_for_good() -> None:
    reader = FakeReader(rejoin_error=RoomNotFound("no such room"))
    recorded = Recorded()
    ctx = context()
    resync = resync_for(reader, recorded, ctx, [True])
    async with running(resync.run()):
        resync.rejoin_needed("heartbeat refused: not a member")
        await recorded.until(lambda: bool(recorded.events))
        with pytest.raises(RoomNotFound):
            await resync.wait_first(WAIT)
        assert ctx.gone
        assert recorded.events == [RoomDeleted("room1")]
        await resync.resync()  # nothing more to read
    assert reader.calls == ["rejoin"]
    assert recorded.synced == 0


async def test_the_first_fetch_that_never_completes_raises_the_last_failure() -> None:
    reader = FakeReader(room_failures=[Forbidden("not allowed")])
    retrying = asyncio.Event()

    async def sleep_forever(delay: float) -> None:
        retrying.set()
        await asyncio.Event().wait()

    resync = Resync(
        reader,
        context(),
        lambda e: None,
        is_subscribed=lambda: True,
        on_synced=lambda: None,
        sleep=sleep_forever,
    )
    async with running(resync.run()):
        resync.request("subscribed")
        await within(retrying.wait())
        with pytest.raises(Forbidden):
            await resync.wait_first(0.0)


async def test_a_closing_session_reports_and_refetches_nothing() -> None:
    reader = FakeReader()
    recorded = Recorded()
    ctx = context()
    resync = resync_for(reader, recorded, ctx, [True])
    ctx.closing = True
    resync.mark_lost("Realtime CLOSED")
    resync.request("subscribed")
    assert resync.lost is None and recorded.events == []
    async with running(resync.run()):
        with pytest.raises(ConnectionFailed):
            await resync.wait_first(0.0)
    assert reader.calls == []


# ---------------------------------------------------------------------- heartbeat


async def test_a_heartbeat_refused_asks_for_a_rejoin_and_one_unanswered_is_retried_soon() -> None:
    ctx = context(heartbeat_interval=3600.0)
    recorded = Recorded()
    resync = resync_for(FakeReader(), recorded, ctx, [True])
    outcomes: list[WatchiumError | None] = [NotMember("not a member"), ConnectionFailed("down")]
    sent: asyncio.Queue[WatchiumError | None] = asyncio.Queue()

    async def send() -> None:
        outcome = outcomes.pop(0) if outcomes else None
        sent.put_nowait(outcome)
        if outcome is not None:
            raise outcome

    heartbeat = Heartbeat(send, ctx, resync)
    async with running(heartbeat.run()):
        heartbeat.soon(0.0)
        assert isinstance(await within(sent.get()), NotMember)
        assert resync.needs_rejoin and resync.lost is None

        heartbeat.soon(0.0)
        assert isinstance(await within(sent.get()), ConnectionFailed)
        assert resync.lost == "heartbeat: down"
        # Not an hour later: the next one goes out within a second or so.
        assert await within(sent.get()) is None
    assert recorded.events == [ConnectionLost("heartbeat: down")]


# ---------------------------------------------------------------------- presence


class FakeJoinedChannel:
    def __init__(self) -> None:
        self.tracked: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    @property
    def joined(self) -> FakeJoinedChannel:
        return self

    async def track(self, user_status: dict[str, Any], /) -> None:
        self.tracked.put_nowait(user_status)


async def test_presence_is_tracked_on_a_change_of_flags_and_every_interval() -> None:
    clock = FakeClock()
    ctx = context(clock, presence_interval=3.0)
    channel = FakeJoinedChannel()
    me = MemberPresence(user_id="u1", username="mio", position=12.0, playing=True)
    current = [me]
    looks: asyncio.Queue[None] = asyncio.Queue()
    heartbeat_soon: list[float] = []

    async def snapshot() -> MemberPresence:
        looks.put_nowait(None)
        return current[0]

    tracker = PresenceTracker(ctx, channel, snapshot, heartbeat_soon.append)
    async with running(tracker.run()):
        first = await within(channel.tracked.get())
        assert first["username"] == "mio" and not first["buffering"]
        for _ in range(3):  # unchanged, within the interval: not tracked
            await within(looks.get())
        assert channel.tracked.empty()

        current[0] = me.model_copy(update={"buffering": True})
        assert (await within(channel.tracked.get()))["buffering"]
        assert heartbeat_soon == [0.0]  # a stall reaches the server at once

        current[0] = me
        assert not (await within(channel.tracked.get()))["buffering"]
        assert heartbeat_soon == [0.0, 2.0]  # its end once the player has caught up

        tracker.track_soon()  # e.g. after a reconnect: presence did not survive it
        await within(channel.tracked.get())

        clock.advance(3.0)
        await within(channel.tracked.get())


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
