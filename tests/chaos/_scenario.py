"""What every chaos test does around its fault: a playing party before, and after, proof that
nothing committed was lost and that everyone is back in step.

The party is tests/e2e's (:mod:`tests.e2e._party`): real clients, RoomSessions and
SimulatedPlayers on the real gateway. After the fault ends, :func:`recovered` waits (never
against a time limit) until every member holds every comment committed and the room's current
playback, then until every player is within 100 ms again, and records how long each took from
the end of the fault.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tests.chaos.conftest import Chaos
from tests.e2e._party import TIMEOUT, Party, Viewer, act_as, new_room, until
from watchium_client import (
    ConnectionFailed,
    RateLimited,
    ServerError,
    ServiceUnavailable,
)

__all__ = [
    "act_as",
    "comment_as",
    "open_party",
    "recovered",
    "retrying",
    "seek_as",
]

T = TypeVar("T")


async def open_party(p: Party, *, member_url: str | None = None) -> tuple[Viewer, list[Viewer]]:
    """A host and two members (the second through ``member_url`` if given), playing in step."""
    host = await p.open("host", new_room())
    room_id = host.session.room_id
    members = [
        await p.open("aiko", room_id, rate_error=0.003, seek_latency=0.12),
        await p.open("ben", room_id, rate_error=-0.004, url=member_url),
    ]
    await host.session.play()
    await p.converged("before the fault")
    return host, members


async def retrying(call: Callable[[], Awaitable[T]], what: str) -> T:
    """``call()`` until the stack answers it: a client retrying while the stack recovers."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            return await call()
        except RateLimited as exc:
            await asyncio.sleep(exc.retry_after)
        except (ConnectionFailed, ServiceUnavailable, ServerError):
            if time.monotonic() > deadline:
                raise AssertionError(f"the stack never answered {what}") from None
            await asyncio.sleep(0.2)


def seek_as(chaos: Chaos, host: Viewer, position: float) -> None:
    """The host's seek, committed straight in the database (the gateway may be down)."""
    act_as(
        chaos.db,
        host.session.user_id,
        "select public.sync_control(p_room_id => %s, p_action => 'seek', "
        "p_current_time => %s::numeric)",
        (host.session.room_id, position),
    )


def comment_as(chaos: Chaos, viewer: Viewer, message: str) -> str:
    """A comment by ``viewer``, committed straight in the database; its id."""
    act_as(
        chaos.db,
        viewer.session.user_id,
        "select public.comments_create(p_anime_id => 'frieren', p_episode_number => 1, "
        "p_message => %s, p_username => %s, p_room_id => %s)",
        (message, viewer.name, viewer.session.room_id),
    )
    rows = chaos.admin("select id::text from public.comments where message = %s", (message,))
    assert len(rows) == 1, rows
    return str(rows[0][0])


def committed_comments(chaos: Chaos, room_id: str) -> set[str]:
    """Every comment of the room's thread the database holds (system comments included)."""
    rows = chaos.admin(
        "select id::text from public.comments where room_id = %s and not is_anchor", (room_id,)
    )
    return {str(row[0]) for row in rows}


async def recovered(
    chaos: Chaos, p: Party, fault: str, since: float, *, report: bool = True
) -> None:
    """Waits until every open session holds every comment the database committed and the room's
    current playback, then until every player is in step; reports both times from ``since``
    (``time.monotonic()`` when the fault ended) unless ``report`` is False."""
    viewers = p.open_viewers()
    room_id = viewers[0].session.room_id
    truth = await retrying(p.truth, "the room's state")
    expected = await asyncio.to_thread(committed_comments, chaos, room_id)
    missing: dict[str, set[str]] = {}

    def everyone_has_everything() -> bool:
        missing.clear()
        for v in viewers:
            have = {c.id for c in v.session.comments}
            if not expected <= have:
                missing[v.name] = expected - have
            state = v.session.state
            if state is None or not state.same_playback(truth):
                missing.setdefault(v.name, set()).add("the room's playback")
        return not missing

    try:
        await until(everyone_has_everything, f"every member has everything ({fault})")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: missing {missing}") from None
    events = time.monotonic() - since
    await p.converged(f"after {fault}")
    if report:
        chaos.report(fault, state=events, in_sync=time.monotonic() - since)
