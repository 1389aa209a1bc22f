"""A watch party for the end-to-end tests: a host and members, each a real client with a
RoomSession and a SimulatedPlayer (real time), against the real gateway.

Drift is checked two ways: as each member's engine measures it (its clock estimate, its player's
reported position), and in truth (the simulated player's exact position against the room's
authoritative row on the server clock, which is this machine's clock).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from watchium_client import (
    GroupWaitPolicy,
    NewRoom,
    PlaybackState,
    RoomEvent,
    RoomSession,
    SessionTimings,
    WatchiumClient,
)
from watchium_client.players import SimulatedPlayer
from watchium_stack.harness import Stack

if TYPE_CHECKING:
    import psycopg

# Generous: the machine is shared; a broken sync never gets there anyway.
TIMEOUT = 30.0
SYNCED = 0.100  # |drift| the tests require after convergence (target: tens of ms)

E = TypeVar("E")


class Connects(Protocol):
    """A database to connect to (tests' ``TestDatabase``, the stack's ``Database``)."""

    def connect(self, *, autocommit: bool = True) -> psycopg.Connection[Any]: ...


def act_as(database: Connects, user: str, query: str, params: tuple[object, ...]) -> None:
    """Runs ``query`` as ``user`` the way PostgREST would (role and claims), committed: how a
    test changes the room while the gateway is down."""
    with database.connect(autocommit=False) as conn:
        conn.execute(
            "select set_config('role', 'authenticated', true), "
            "set_config('request.jwt.claims', %s, true)",
            (json.dumps({"sub": user, "role": "authenticated"}),),
        )
        conn.execute(query, params)
        conn.commit()


async def until(
    predicate: Callable[[], bool], what: str, timeout: float = TIMEOUT, step: float = 0.05
) -> None:
    """Waits until ``predicate()`` holds (checked every ``step``), failing after ``timeout``."""

    async def wait() -> None:
        while not predicate():
            await asyncio.sleep(step)

    try:
        await asyncio.wait_for(wait(), timeout)
    except TimeoutError:
        raise AssertionError(f"timed out waiting until {what}") from None


class Recorder:
    """Every event of a session, with a way to wait for one that matches."""

    def __init__(self, session: RoomSession) -> None:
        self.events: list[RoomEvent] = []
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._record(session.events()))

    async def _record(self, stream: AsyncIterator[RoomEvent]) -> None:
        async for event in stream:
            self.events.append(event)
            self._changed.set()

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    def mark(self) -> int:
        """A position in the record: ``wait_for(..., since=mark)`` looks only after it."""
        return len(self.events)

    async def wait_for(
        self,
        kind: type[E],
        match: Callable[[E], bool] = lambda _: True,
        *,
        since: int = 0,
        timeout: float = TIMEOUT,
        who: str = "",
    ) -> E:
        async def wait() -> E:
            while True:
                for event in self.events[since:]:
                    if isinstance(event, kind) and match(event):
                        return event
                self._changed.clear()
                await self._changed.wait()

        try:
            return await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            seen = ", ".join(type(e).__name__ for e in self.events[-20:])
            raise AssertionError(
                f"{who or 'the session'} saw no matching {kind.__name__} (last events: {seen})"
            ) from None

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@dataclass
class Viewer:
    name: str
    session: RoomSession
    player: SimulatedPlayer
    recorder: Recorder

    @property
    def engine_drift(self) -> float | None:
        status = self.session.status
        return None if status is None else status.drift

    def true_drift(self, room: PlaybackState) -> float:
        """The player's exact position minus where the room really is now."""
        return self.player.true_position() - room.target_position(time.time())


@dataclass
class Party:
    stack: Stack
    viewers: list[Viewer] = field(default_factory=list)
    clients: list[WatchiumClient] = field(default_factory=list)

    @property
    def host(self) -> Viewer:
        for viewer in self.viewers:
            if viewer.session.is_host:
                return viewer
        raise AssertionError("nobody is the host")

    def by_name(self, name: str) -> Viewer:
        return next(v for v in self.viewers if v.name == name)

    async def client(self, url: str | None = None) -> WatchiumClient:
        """A client signed in anonymously, on the stack or on ``url`` (a proxy in front of it)."""
        client = await WatchiumClient.connect(url or self.stack.url, self.stack.anon_key)
        self.clients.append(client)
        return client

    async def open(
        self,
        name: str,
        room: str | NewRoom,
        *,
        group_wait: GroupWaitPolicy | None = None,
        timings: SessionTimings | None = None,
        url: str | None = None,
        on_episode_change: Callable[[PlaybackState], Awaitable[None]] | None = None,
        auto_ready: bool = True,
        **player: Any,
    ) -> Viewer:
        session = RoomSession(
            await self.client(url),
            room,
            username=name,
            player=SimulatedPlayer(**player),
            group_wait=group_wait,
            timings=timings,
            on_episode_change=on_episode_change,
            auto_ready=auto_ready,
        )
        recorder = Recorder(session)  # subscribed before open: sees everything
        await session.open()
        assert isinstance(session.player, SimulatedPlayer)
        viewer = Viewer(name, session, session.player, recorder)
        self.viewers.append(viewer)
        return viewer

    async def truth(self) -> PlaybackState:
        """The room's row as the server holds it now (a fresh read)."""
        room_id = self.viewers[0].session.room_id
        live = await self.clients[0].host_time(room_id)
        return PlaybackState.from_row(live.model_dump())

    def open_viewers(self) -> list[Viewer]:
        return [v for v in self.viewers if v.session.is_open]

    async def converged(self, what: str, *, tolerance: float = SYNCED) -> PlaybackState:
        """Waits until every open session's engine reports |drift| <= tolerance while the room
        plays, then checks the truth; returns the room's state. The room may change meanwhile
        (the host's session moving the room to its player after its own action): then the
        truth is read again and the wait starts over."""
        viewers = self.open_viewers()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TIMEOUT
        truth = await self.truth()
        # When each engine took the room's current state: only measurements after it count.
        took: dict[str, float] = {}

        def newer_room() -> bool:
            return any(
                v.session.engine is not None
                and v.session.engine.room is not None
                and v.session.engine.room.updated_at > truth.updated_at
                for v in viewers
            )

        def engines_agree() -> bool:
            for v in viewers:
                engine = v.session.engine
                assert engine is not None
                if v.name not in took:
                    if engine.room is None or not engine.room.same_playback(truth):
                        return False
                    took[v.name] = v.session.client.clock.local_now()
                status = engine.status
                # A scheduled start: measure once it has started (server clock = this clock).
                after = max(took[v.name], truth.updated_at + 0.1 if truth.is_playing else 0.0)
                if status.measured_at is None or status.measured_at <= after:
                    return False
                if status.drift is None or abs(status.drift) > tolerance:
                    return False
            return True

        while not engines_agree():
            if newer_room():
                truth = await self.truth()
                took.clear()
            elif loop.time() > deadline:
                seen = {
                    v.name: (v.session.engine.room if v.session.engine else None, v.session.status)
                    for v in viewers
                }
                raise AssertionError(
                    f"timed out waiting until every engine is within {tolerance * 1000:.0f} ms "
                    f"({what})\ntruth: {truth}\nviewers: {seen}"
                )
            await asyncio.sleep(0.05)
        drifts = {v.name: round(v.true_drift(truth) * 1000, 1) for v in viewers}
        # The truth may differ from the engines' view by their clock error (a few ms here).
        assert all(abs(d) <= 1000 * tolerance * 1.5 for d in drifts.values()), (what, drifts)
        return truth

    async def server_says_synced(self, what: str) -> None:
        """Waits until members-get-list reports every open member in sync."""
        names = {v.session.user_id for v in self.open_viewers()}
        room_id = self.open_viewers()[0].session.room_id
        client = self.open_viewers()[0].session.client
        state: dict[str, bool] = {}

        async def poll() -> None:
            while True:
                listed = await client.members(room_id)
                state.clear()
                state.update({m.user_id: m.is_synced for m in listed.members})
                if names <= set(state) and all(state[u] for u in names):
                    return
                await asyncio.sleep(0.25)

        try:
            await asyncio.wait_for(poll(), TIMEOUT)
        except TimeoutError:
            raise AssertionError(
                f"the server never saw everyone in sync ({what}): {state}"
            ) from None

    async def close(self) -> None:
        for viewer in self.viewers:
            await viewer.session.close()
            await viewer.recorder.close()
            await viewer.player.close()
        for client in self.clients:
            await client.close()


def new_room(title: str = "Frieren night") -> NewRoom:
    return NewRoom(
        title=title,
        anime_id="frieren",
        anime_title="Frieren",
        video_url="https://example.com/frieren/01.mkv",
    )


@contextlib.asynccontextmanager
async def party(stack: Stack) -> AsyncIterator[Party]:
    p = Party(stack)
    try:
        yield p
    finally:
        await p.close()
