"""What a room's sessions send each other in steady playback, counted by the Realtime server
itself: the members' heartbeats reach nobody, and presence is not tracked again while nothing a
member shows changes. Hosted Supabase bills every one of those messages (docs/REALTIME.md)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests._pg import TestDatabase
from tests.e2e._party import TIMEOUT, new_room, party
from watchium_client import SessionTimings
from watchium_stack.harness import Stack


async def traffic(stack: Stack) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        response = await http.get(
            f"{stack.url}/realtime/v1/api/stats", headers={"apikey": stack.service_role_key}
        )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def heartbeats(database: TestDatabase, room_id: str) -> int:
    with database.connect() as conn:
        row = conn.execute(
            "select count(*) as n from sync_states "
            "where room_id = %s and sync_event_type = 'heartbeat'",
            (room_id,),
        ).fetchone()
    assert row is not None
    return int(row["n"])


async def test_heartbeats_and_steady_presence_send_the_room_nothing(
    stack: Stack, database: TestDatabase
) -> None:
    # A heartbeat a second: many of them while the room plays steadily.
    timings = SessionTimings(heartbeat_interval=1.0)
    async with party(stack) as p:
        host = await p.open("host", new_room(), timings=timings)
        room_id = host.session.room_id
        for name, rate_error in (("aiko", 0.003), ("ben", -0.003)):
            await p.open(name, room_id, timings=timings, rate_error=rate_error)
        await host.session.play()
        await p.converged("before counting")

        before = await traffic(stack)
        counted_from = await asyncio.to_thread(heartbeats, database, room_id)

        async def beats_sent(n: int) -> None:
            while await asyncio.to_thread(heartbeats, database, room_id) < counted_from + n:
                await asyncio.sleep(0.2)

        # Four heartbeats per member: in the old design each was an event for every member,
        # and presence was tracked again every 3 s.
        await asyncio.wait_for(beats_sent(12), TIMEOUT)
        after = await traffic(stack)

    def sent(direction: str, kind: str) -> int:
        return int(after[direction].get(kind, 0) - before[direction].get(kind, 0))

    assert sent("frames_out", "postgres_changes/room_members/UPDATE") == 0
    assert sent("frames_out", "postgres_changes/rooms/UPDATE") == 0
    assert sent("frames_in", "presence/track") == 0
    assert sent("frames_out", "presence_diff") == 0
