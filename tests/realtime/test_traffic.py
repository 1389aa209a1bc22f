"""The traffic counters: every frame in and out counted by kind, and ``GET /api/stats`` answering
them to the service role key only (bench/realtime_cost.py reads them to measure a room's cost)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.realtime._support import Phoenix, Server, Sql, new_user, user_token
from watchium_wire import realtime_hints


def is_event(event: str, topic: str):  # noqa: ANN201
    return lambda m: isinstance(m, dict) and m["event"] == event and m["topic"] == topic


async def stats(realtime: Server, apikey: str | None) -> httpx.Response:
    headers = {} if apikey is None else {"apikey": apikey}
    async with httpx.AsyncClient() as http:
        return await http.get(f"{realtime.http_url}/realtime/v1/api/stats", headers=headers)


def position(message: dict[str, Any]) -> float:
    return float(message["payload"]["data"]["record"]["current_playback_time"])


def counted(before: dict[str, Any], after: dict[str, Any], direction: str, kind: str) -> int:
    return int(after[direction].get(kind, 0) - before[direction].get(kind, 0))


async def test_stats_answer_the_service_role_key_only(realtime: Server) -> None:
    for key in (None, "not-a-key", realtime.keys.anon_key, user_token(new_user())):
        response = await stats(realtime, key)
        assert response.status_code == 401, key
    response = await stats(realtime, realtime.keys.service_role_key)
    assert response.status_code == 200
    body = response.json()
    assert {"frames_in", "frames_out", "bytes_out", "sockets"} <= set(body)


async def test_frames_are_counted_by_kind(realtime: Server, db: Sql) -> None:
    host, member = new_user(), new_user()
    room_id, _ = await db.create_room(host)
    await db.join_room(member, room_id)
    topic = f"realtime:room:{room_id}"
    binding = {
        "event": "UPDATE",
        "schema": "public",
        "table": "rooms",
        "filter": f"room_id=eq.{room_id}",
    }
    socks = []
    for who in (host, member):
        ph = await Phoenix.open(realtime.ws_url())
        config = {"postgres_changes": [binding], "presence": {"key": who, "enabled": True}}
        assert (await ph.join(topic, config, access_token=user_token(who)))["status"] == "ok"
        await ph.expect(is_event("system", topic))
        await ph.expect(is_event("presence_state", topic))
        socks.append(ph)
    # Changes arrive in commit order: once this one is in, earlier ones (the join's) are too.
    await db.seek(host, room_id, 1.0)
    for ph in socks:
        await ph.expect(lambda m: is_event("postgres_changes", topic)(m) and position(m) == 1.0)
    key = realtime.keys.service_role_key
    before = (await stats(realtime, key)).json()

    a, b = socks
    ref = await a.push("phoenix", "heartbeat", {})
    await a.reply(ref)
    await a.push(topic, "presence", {"type": "presence", "event": "track", "payload": {"x": 1}})
    for ph in socks:
        await ph.expect(is_event("presence_diff", topic))
    await db.seek(host, room_id, 12.5)
    for ph in socks:
        await ph.expect(is_event("postgres_changes", topic))
    after = (await stats(realtime, key)).json()

    assert counted(before, after, "frames_in", "heartbeat") == 1
    assert counted(before, after, "frames_out", "phx_reply/heartbeat") == 1
    assert counted(before, after, "frames_in", "presence/track") == 1
    # The track's reply is counted apart from the diff every member gets.
    assert counted(before, after, "frames_out", "phx_reply") == 1
    assert counted(before, after, "frames_out", "presence_diff") == 2
    assert counted(before, after, "frames_out", "postgres_changes/rooms/UPDATE") == 2
    assert after["bytes_out"]["postgres_changes/rooms/UPDATE"] > before["bytes_out"].get(
        "postgres_changes/rooms/UPDATE", 0
    )
    for ph in socks:
        await ph.close()


async def test_a_heartbeat_sends_other_members_nothing(realtime: Server, db: Sql) -> None:
    """A member subscribed as the SDK subscribes (the bindings of realtime_hints) gets the
    join of another member, then nothing for that member's heartbeats, then the change of a
    value the members show."""
    host, member = new_user(), new_user()
    room_id, _ = await db.create_room(host)
    topic = f"realtime:room:{room_id}"
    hints = realtime_hints(room_id, is_public=True, user_id=host)
    bindings = [b.model_dump(by_alias=True) for b in hints.postgres_changes]
    ph = await Phoenix.open(realtime.ws_url())
    assert (await ph.join(topic, {"postgres_changes": bindings}, access_token=user_token(host)))[
        "status"
    ] == "ok"
    await ph.expect(is_event("system", topic))

    def change(m: Any) -> bool:
        # rooms_create committed before this subscription, but when the stream is still
        # decoding that transaction its rows (the room, the host's membership, the thread's
        # anchor) arrive now, as Realtime delivers whatever it decodes once subscribed. They
        # are not what this test is about.
        if not is_event("postgres_changes", topic)(m):
            return False
        data = m["payload"]["data"]
        record = data["record"]
        created = data["type"] == "INSERT" and (
            data["table"] == "rooms"
            or (data["table"] == "room_members" and record.get("user_id") == host)
            or (data["table"] == "comments" and record.get("is_anchor"))
        )
        return not created

    await db.join_room(member, room_id)
    joined = await ph.expect(change)
    assert joined["payload"]["data"]["table"] == "room_members"
    assert joined["payload"]["data"]["type"] == "INSERT"
    assert joined["payload"]["data"]["record"]["user_id"] == member
    for position in (0.0, 0.4, 0.8):
        await db.run(
            member,
            "select public.members_update_status(p_room_id => %s, p_current_time => %s::numeric)",
            (room_id, position),
        )
    await db.run(
        member,
        "select public.members_update_status(p_room_id => %s, p_is_buffering => true)",
        (room_id,),
    )
    # Changes arrive in commit order: had a heartbeat (or its sync log row, or the room's
    # activity) been sent, it would come before this.
    stalled = await ph.expect(change)
    data = stalled["payload"]["data"]
    assert (data["table"], data["type"]) == ("room_members", "UPDATE"), data
    assert data["record"]["is_buffering"] is True and data["record"]["user_id"] == member, data
    assert "current_playback_time" not in data["record"]
    await ph.close()
