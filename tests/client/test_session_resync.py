"""The resync and the heartbeat of a RoomSession on their own: the retry policy, when a
connection loss is reported and when it ends, rejoining, and the heartbeat's schedule. The reads
of a resync are a scripted fake of the session's own part, never of the database or a client
library; tests/e2e drops and restarts the real stack under a whole party.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from tests.client._session_parts import WAIT, context, running, within
from watchium_client._errors import (
    ConnectionFailed,
    Forbidden,
    NotMember,
    RateLimited,
    RoomNotFound,
    ServerError,
    WatchiumError,
)
from watchium_client.session._context import SessionContext
from watchium_client.session._events import (
    ConnectionLost,
    ConnectionRestored,
    RoomDeleted,
    RoomEvent,
)
from watchium_client.session._heartbeat import Heartbeat, sample_clock
from watchium_client.session._resync import Resync

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

    async def fetch_queue(self) -> None:
        self.calls.append("queue")

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
    assert reader.calls == ["room", "members", "rejoin", "members", "queue", "comments"]
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
    outcomes: list[WatchiumError | None] = [
        NotMember("not a member"),
        ConnectionFailed("down"),
        ConnectionFailed("down"),
    ]
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
        # Tried again at once; a second failure in a row is a loss.
        assert isinstance(await within(sent.get()), ConnectionFailed)
        assert resync.lost == "heartbeat: down"
        # Not an hour later: the next one goes out within a second or so.
        assert await within(sent.get()) is None
    assert recorded.events == [ConnectionLost("heartbeat: down")]


async def test_one_unanswered_heartbeat_or_clock_sample_is_no_connection_loss() -> None:
    """A server closing an idle keep-alive connection as the client reuses it fails one request
    (a reset); the next, on a new connection, is answered: nothing is reported."""
    ctx = context(heartbeat_interval=3600.0, clock_interval=0.01)
    recorded = Recorded()
    resync = resync_for(FakeReader(), recorded, ctx, [True])
    answered: asyncio.Queue[str] = asyncio.Queue()

    def failing_once(what: str) -> Callable[[], Awaitable[None]]:
        failures = [ConnectionFailed(f"{what}: no answer from the server: ")]

        async def call() -> None:
            if failures:
                raise failures.pop()
            answered.put_nowait(what)

        return call

    heartbeat = Heartbeat(failing_once("heartbeat"), ctx, resync)
    async with (
        running(heartbeat.run()),
        running(sample_clock(failing_once("clock sample"), ctx, resync)),
    ):
        heartbeat.soon(0.0)
        seen: set[str] = set()
        while seen != {"heartbeat", "clock sample"}:
            seen.add(await within(answered.get()))
    assert resync.lost is None
    assert recorded.events == []
