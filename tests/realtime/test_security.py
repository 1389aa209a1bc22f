"""What an outsider with the publishable key and free anonymous users can no longer learn or do
over Realtime: filters as oracles, other users' presence, a left member's channel, and one
address holding the server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus

from tests._pg import TestDatabase
from tests.realtime._support import (
    Phoenix,
    Server,
    Sql,
    new_user,
    start_server,
    stop_server,
    user_token,
)
from watchium_stack.realtime import Limits


def is_event(event: str, topic: str | None = None) -> Any:
    return lambda m: m["event"] == event and (topic is None or m["topic"] == topic)


async def received(ph: Phoenix) -> list[dict[str, Any]]:
    """Everything pushed to the socket so far (its frames go out in order: this waits for the
    reply to a heartbeat sent now)."""
    ref = await ph.push("phoenix", "heartbeat", {})
    out: list[dict[str, Any]] = []
    while True:
        message = await ph.expect(lambda m: True)
        if message["event"] == "phx_reply" and message["ref"] == ref:
            return out
        out.append(message)


async def subscribe(
    realtime: Server, topic: str, bindings: list[dict[str, Any]], **kw: Any
) -> Phoenix:
    ph = await Phoenix.open(realtime.ws_url())
    reply = await ph.join(topic, {"postgres_changes": bindings}, **kw)
    assert reply["status"] == "ok", reply
    system = await ph.expect(is_event("system", topic))
    assert system["payload"]["message"] == "Subscribed to PostgreSQL", system
    return ph


@pytest.fixture
async def unreadable_table(db: Sql, realtime: Server) -> AsyncIterator[str]:
    """A published table that anon and authenticated may not read at all."""
    await db.run(
        None,
        "create table public.security_probe (id uuid primary key default gen_random_uuid(), "
        "room_id text not null, user_id text not null)",
    )
    await db.run(None, "revoke all on public.security_probe from anon, authenticated")
    await db.run(None, "alter publication supabase_realtime add table public.security_probe")
    try:
        yield "security_probe"
    finally:
        await db.run(None, "drop table public.security_probe")


async def test_a_filter_on_a_table_the_role_cannot_read_is_no_oracle(
    realtime: Server, db: Sql, unreadable_table: str
) -> None:
    """Upstream sends "Error 401: Unauthorized" for every matching change: a frame per match
    tells the subscriber about rows it may not read. Here it gets nothing at all."""
    victim = new_user()
    probes = []
    for token in (None, user_token(new_user())):
        extra = {"access_token": token} if token else {}
        probes.append(
            await subscribe(
                realtime,
                "realtime:anything",
                [
                    {
                        "event": "*",
                        "schema": "public",
                        "table": unreadable_table,
                        "filter": f"user_id=eq.{victim}",
                    }
                ],
                **extra,
            )
        )
    # The service role reads everything: once it has the DELETE, the server has handled both
    # changes for every subscriber.
    server_side = await Phoenix.open(realtime.ws_url(apikey=realtime.keys.service_role_key))
    reply = await server_side.join(
        "realtime:anything",
        {"postgres_changes": [{"event": "*", "schema": "public", "table": unreadable_table}]},
    )
    assert reply["status"] == "ok", reply
    await server_side.expect(is_event("system"))
    await db.run(
        None,
        f"insert into public.{unreadable_table} (room_id, user_id) values ('secretroom', %s)",
        (victim,),
    )
    await db.run(None, f"delete from public.{unreadable_table}")
    for kind in ("INSERT", "DELETE"):
        change = await server_side.expect(is_event("postgres_changes"))
        assert change["payload"]["data"]["type"] == kind
    await server_side.close()
    for ph in probes:
        assert not [m for m in await received(ph) if m["event"] == "postgres_changes"]
        await ph.close()


async def test_deletions_in_a_private_room_tell_outsiders_nothing(
    realtime: Server, db: Sql
) -> None:
    """A member's DELETE carries only the key, but a filter matched on the deleted row would
    still say that the room exists and when its members leave."""
    host, member = new_user(), new_user()
    room_id, key = await db.create_room(host, public=False)
    await db.join_room(member, room_id, key)
    bindings = [
        {
            "event": "DELETE",
            "schema": "public",
            "table": "room_members",
            "filter": f"room_id=eq.{room_id}",
        },
        {
            "event": "DELETE",
            "schema": "public",
            "table": "room_members",
            "filter": f"user_id=eq.{member}",
        },
    ]
    outsiders = [
        await subscribe(realtime, "realtime:probe", bindings),
        await subscribe(realtime, "realtime:probe", bindings, access_token=user_token(new_user())),
    ]
    inside = await subscribe(
        realtime, "realtime:probe", bindings[:1], access_token=user_token(host)
    )
    await db.run(member, "select public.rooms_leave(p_room_id => %s)", (room_id,))
    deleted = await inside.expect(is_event("postgres_changes"))
    assert deleted["payload"]["data"]["type"] == "DELETE"
    for ph in outsiders:
        assert not [m for m in await received(ph) if m["event"] == "postgres_changes"]
    for ph in (*outsiders, inside):
        await ph.close()


async def test_leaving_ends_the_members_channel_at_once(realtime: Server, db: Sql) -> None:
    host, member = new_user(), new_user()
    room_id, key = await db.create_room(host, public=False)
    await db.join_room(member, room_id, key)
    topic = f"realtime:room:{room_id}"
    config = {"private": True, "broadcast": {"self": False}, "presence": {"enabled": True}}
    socks = {}
    for who in (host, member):
        ph = await Phoenix.open(realtime.ws_url())
        reply = await ph.join(topic, config, access_token=user_token(who))
        assert reply["status"] == "ok", reply
        socks[who] = ph
    left = socks[member]
    await db.run(member, "select public.rooms_leave(p_room_id => %s)", (room_id,))
    system = await left.expect(is_event("system", topic))
    assert system["payload"]["status"] == "error"
    await left.expect(is_event("phx_close", topic))
    # The channel is gone: what it sends goes nowhere, what the room sends no longer reaches it.
    ref = await left.push(topic, "broadcast", {"type": "broadcast", "event": "x", "payload": {}})
    assert (await left.reply(ref))["response"] == {"reason": "unmatched topic"}
    await socks[host].push(topic, "broadcast", {"type": "broadcast", "event": "y", "payload": {}})
    assert not [m for m in await received(left) if m["event"] == "broadcast"]
    # Joining again is refused by the channel's policies: it is no member.
    reply = await left.join(topic, config, access_token=user_token(member))
    assert reply["status"] == "error"
    assert realtime.service.stats()["revoked_channels"] >= 1
    for ph in socks.values():
        await ph.close()


@pytest.fixture
async def strict(database: TestDatabase) -> AsyncIterator[Server]:
    """A server of its own with tiny per-address limits and public channels refused."""
    server = await start_server(
        database.url,
        slot_name=f"watchium_realtime_strict_{id(database)}",
        limits=Limits(
            close_timeout=0.5,
            max_sockets_per_address=3,
            max_channels_per_address=2,
            max_bindings_per_address=4,
            allow_public_channels=False,
        ),
    )
    try:
        yield server
    finally:
        await stop_server(server)


async def test_private_only_refuses_public_channels(strict: Server, db: Sql) -> None:
    host = new_user()
    room_id, _ = await db.create_room(host)  # a public room: its channel is private all the same
    ph = await Phoenix.open(strict.ws_url())
    reply = await ph.join(f"realtime:room:{room_id}", {"presence": {"enabled": True}})
    assert reply["response"] == {"reason": "PrivateOnly: This project only allows private channels"}
    reply = await ph.join(f"realtime:room:{room_id}", {"private": True})  # anon key: no member
    assert reply["status"] == "error"
    reply = await ph.join(
        f"realtime:room:{room_id}", {"private": True}, access_token=user_token(host)
    )
    assert reply["status"] == "ok"
    await ph.close()


async def test_one_address_holds_bounded_sockets_channels_and_bindings(
    strict: Server, db: Sql
) -> None:
    host = new_user()
    room_id, _ = await db.create_room(host)
    token = user_token(host)
    binding = {
        "event": "UPDATE",
        "schema": "public",
        "table": "rooms",
        "filter": f"room_id=eq.{room_id}",
    }
    socks = [await Phoenix.open(strict.ws_url()) for _ in range(3)]
    with pytest.raises(InvalidStatus) as refused:
        await Phoenix.open(strict.ws_url())
    assert refused.value.response.status_code == 429
    assert b"Too many connections from this address" in refused.value.response.body
    # Bindings: 3 fit, the next channel's 2 would not.
    reply = await socks[0].join(
        f"realtime:room:{room_id}",
        {"private": True, "postgres_changes": [binding] * 3},
        access_token=token,
    )
    assert reply["status"] == "ok"
    reply = await socks[1].join(
        f"realtime:room:{room_id}",
        {"private": True, "postgres_changes": [binding] * 2},
        access_token=token,
    )
    assert reply["response"] == {
        "reason": "ChannelRateLimitReached: Too many subscriptions from this address"
    }
    # Channels: the second fits, a third does not, on any socket of the address.
    reply = await socks[1].join(f"realtime:room:{room_id}", {"private": True}, access_token=token)
    assert reply["status"] == "ok"
    reply = await socks[2].join(f"realtime:room:{room_id}", {"private": True}, access_token=token)
    assert reply["response"] == {
        "reason": "ChannelRateLimitReached: Too many channels from this address"
    }
    # Closing a socket gives its share back.
    await socks[0].close()
    for _ in range(100):
        reply = await socks[2].join(
            f"realtime:room:{room_id}", {"private": True}, access_token=token
        )
        if reply["status"] == "ok":
            break
    assert reply["status"] == "ok"
    for ph in socks[1:]:
        await ph.close()
