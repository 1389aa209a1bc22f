"""Protocol details over raw sockets: handshake, control messages, errors, limits, broadcast
across versions, REST broadcast, private channels, and postgres_changes semantics."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from tests.realtime._support import TIMEOUT, Phoenix, Server, Sql, new_user, user_token


def is_event(event: str, topic: str | None = None):  # noqa: ANN201
    return lambda m: isinstance(m, dict) and m["event"] == event and topic in (None, m["topic"])


async def test_handshake_requires_a_known_api_key(realtime: Server) -> None:
    for key in ("", "not-a-key", user_token(new_user())):
        with pytest.raises(InvalidStatus) as info:
            await Phoenix.open(realtime.ws_url(apikey=key))
        assert info.value.response.status_code == 401
        assert "error" in json.loads(info.value.response.body)


async def test_heartbeat_unmatched_topic_and_malformed_frames(realtime: Server) -> None:
    ph = await Phoenix.open(realtime.ws_url())
    ref = await ph.push("phoenix", "heartbeat", {})
    assert await ph.reply(ref) == {"status": "ok", "response": {}}
    ref = await ph.push("realtime:nobody", "broadcast", {"type": "broadcast", "event": "x"})
    assert await ph.reply(ref) == {"status": "error", "response": {"reason": "unmatched topic"}}
    ref = await ph.push("realtime:", "phx_join", {})
    reply = await ph.reply(ref)
    assert reply["response"]["reason"].startswith("TopicNameRequired")
    for _ in range(1000):  # garbage is dropped (and not counted by the rate limit) ...
        await ph.ws.send("{not json")
        await ph.ws.send(b"\x09garbage")
    # ... and the socket stays up: frames are handled in order, so this answer comes after all
    # of the garbage was read
    ref = await ph.push("phoenix", "heartbeat", {})
    assert (await ph.reply(ref))["status"] == "ok"
    await ph.close()


async def test_join_errors_use_upstream_reasons(realtime: Server) -> None:
    ph = await Phoenix.open(realtime.ws_url())
    expired = user_token(new_user(), ttl=-30)
    reply = await ph.join("realtime:room:x", {}, access_token=expired)
    assert reply["status"] == "error"
    assert reply["response"]["reason"].startswith("InvalidJWTToken: Token has expired")
    reply = await ph.join("realtime:room:x", {}, access_token="garbage")
    assert reply["response"]["reason"] == "MalformedJWT: The token provided is not a valid JWT"
    forged = user_token(new_user(), secret="another-secret-of-sufficient-length!!")
    reply = await ph.join("realtime:room:x", {}, access_token=forged)
    assert reply["response"]["reason"].startswith("JwtSignatureError")
    await ph.close()


async def test_access_token_refresh_and_bad_token(realtime: Server) -> None:
    ph = await Phoenix.open(realtime.ws_url())
    user = new_user()
    reply = await ph.join("realtime:room:tok", {}, access_token=user_token(user))
    assert reply["status"] == "ok" and reply["response"] == {"postgres_changes": []}
    await ph.push("realtime:room:tok", "access_token", {"access_token": user_token(user, ttl=99)})
    await ph.push("realtime:room:tok", "access_token", {"access_token": "bad"})
    system = await ph.expect(is_event("system", "realtime:room:tok"))
    assert system["payload"]["status"] == "error"
    assert system["payload"]["channel"] == "room:tok"
    close = await ph.expect(is_event("phx_close", "realtime:room:tok"))
    assert close["ref"] == close["join_ref"]
    await ph.close()


async def test_binary_broadcast_from_v2_reaches_v1_as_json(realtime: Server) -> None:
    v1 = await Phoenix.open(realtime.ws_url("1.0.0"), "1.0.0")
    v2 = await Phoenix.open(realtime.ws_url("2.0.0"), "2.0.0")
    topic = "realtime:room:bin"
    assert (await v1.join(topic, {"broadcast": {"self": False}}))["status"] == "ok"
    reply = await v2.join(topic, {"broadcast": {"self": True, "ack": True}})
    assert reply["status"] == "ok"
    join_ref = "1"
    body = b'{"n":1}'
    frame = bytes([3, 1, 2, len(topic), 4, 0, 1]) + b"1" + b"99" + topic.encode() + b"chat" + body
    await v2.ws.send(frame)
    got = await v1.expect(is_event("broadcast", topic))
    assert got["payload"] == {"type": "broadcast", "event": "chat", "payload": {"n": 1}}
    assert got["ref"] is None
    echoed = await v2.expect(lambda m: isinstance(m, bytes))  # self: true, as binary kind 4
    assert echoed[0] == 4 and echoed.endswith(body)
    ack = await v2.expect(is_event("phx_reply", topic))
    assert ack["payload"] == {"status": "ok", "response": {}} and ack["ref"] == "99"
    assert join_ref
    # and JSON from v1 reaches v2 as a text frame
    await v1.push(topic, "broadcast", {"type": "broadcast", "event": "hi", "payload": {"a": 2}})
    got2 = await v2.expect(is_event("broadcast", topic))
    assert got2["payload"]["payload"] == {"a": 2}
    await v1.close()
    await v2.close()


async def test_oversized_broadcast_and_presence(realtime: Server) -> None:
    ph = await Phoenix.open(realtime.ws_url())
    topic = "realtime:room:big"
    await ph.join(
        topic,
        {"broadcast": {"ack": True}, "presence": {"key": "k"}},
        access_token=user_token(new_user()),
    )
    big = "x" * (300 * 1024)
    ref = await ph.push(
        topic, "broadcast", {"type": "broadcast", "event": "e", "payload": {"b": big}}
    )
    assert await ph.reply(ref) == {
        "status": "error",
        "response": {"reason": "payload_size_exceeded"},
    }
    await ph.push(topic, "presence", {"event": "track", "payload": {"b": big}})
    system = await ph.expect(is_event("system", topic))
    assert system["payload"]["message"] == "Track message size exceeded"
    await ph.expect(is_event("phx_close", topic))
    with pytest.raises(ConnectionError):  # a frame over the limit closes the socket (1009)
        await ph.ws.send("x" * (2 * 1024 * 1024))
        await ph.expect(lambda m: False, timeout=TIMEOUT)
    await ph.close()


async def test_message_rate_limit_closes_the_channel(realtime: Server) -> None:
    ph = await Phoenix.open(realtime.ws_url())
    topic = "realtime:room:flood"
    await ph.join(topic, {})
    for _ in range(400):
        await ph.push(topic, "broadcast", {"type": "broadcast", "event": "e", "payload": {}})
    system = await ph.expect(is_event("system", topic))
    assert system["payload"] == {
        "extension": "system",
        "status": "error",
        "message": "Too many messages per second",
        "channel": "room:flood",
    }
    await ph.expect(is_event("phx_close", topic))
    await ph.close()


async def test_presence_state_diff_and_disconnect(realtime: Server) -> None:
    topic = "realtime:room:presence"
    alice, bob = new_user(), new_user()
    a = await Phoenix.open(realtime.ws_url())
    b = await Phoenix.open(realtime.ws_url("2.0.0"), "2.0.0")
    # The key asked for is ignored: a presence is keyed by the token's user.
    await a.join(
        topic, {"presence": {"key": "alice", "enabled": True}}, access_token=user_token(alice)
    )
    await a.expect(is_event("presence_state", topic))
    await a.push(topic, "presence", {"type": "presence", "event": "track", "payload": {"s": 1}})
    await a.expect(lambda m: is_event("presence_diff")(m) and alice in m["payload"]["joins"])
    await b.join(topic, {"presence": {"key": alice, "enabled": True}}, access_token=user_token(bob))
    state = await b.expect(is_event("presence_state", topic))
    assert state["payload"][alice]["metas"][0]["s"] == 1
    await b.push(topic, "presence", {"type": "presence", "event": "track", "payload": {"s": 2}})
    diff = await a.expect(lambda m: is_event("presence_diff")(m) and bob in m["payload"]["joins"])
    assert diff["payload"]["leaves"] == {}
    await b.close()  # a disconnect is a leave
    diff = await a.expect(lambda m: is_event("presence_diff")(m) and bob in m["payload"]["leaves"])
    await a.close()


async def test_presence_needs_a_user_and_is_keyed_by_it(realtime: Server) -> None:
    """With the API key alone nothing can be tracked; with a token, only under its user."""
    topic = "realtime:room:presencekeys"
    watcher_id, user = new_user(), new_user()
    watcher = await Phoenix.open(realtime.ws_url())
    await watcher.join(topic, {"presence": {"enabled": True}}, access_token=user_token(watcher_id))
    await watcher.expect(is_event("presence_state", topic))
    anon = await Phoenix.open(realtime.ws_url())
    await anon.join(topic, {"presence": {"key": "made-up", "enabled": True}})
    ref = await anon.push(
        topic, "presence", {"type": "presence", "event": "track", "payload": {"buffering": True}}
    )
    reply = await anon.reply(ref)
    assert reply["status"] == "error"
    assert reply["response"]["reason"] == "Presence is tracked for a signed-in user only"
    signed = await Phoenix.open(realtime.ws_url())
    await signed.join(
        topic, {"presence": {"key": watcher_id, "enabled": True}}, access_token=user_token(user)
    )
    await signed.push(
        topic, "presence", {"type": "presence", "event": "track", "payload": {"buffering": True}}
    )
    diff = await watcher.expect(is_event("presence_diff", topic))
    assert list(diff["payload"]["joins"]) == [user]
    # Only the user's own track reached the watcher: the anonymous one never did.
    assert not [m for m in await _until_heartbeat(watcher) if m["event"] == "presence_diff"]
    for ph in (watcher, anon, signed):
        await ph.close()


async def test_leave_replies_then_closes(realtime: Server) -> None:
    ph = await Phoenix.open(realtime.ws_url("2.0.0"), "2.0.0")
    topic = "realtime:room:leave"
    await ph.join(topic, {})
    ref = await ph.push(topic, "phx_leave", {}, join_ref="1")
    assert (await ph.reply(ref))["status"] == "ok"
    close = await ph.expect(is_event("phx_close", topic))
    assert close["join_ref"] == "1" and close["ref"] == "1"
    await ph.close()


async def test_rest_broadcast(realtime: Server, db: Sql) -> None:
    ph = await Phoenix.open(realtime.ws_url())
    await ph.join("realtime:room:rest", {})
    url = f"{realtime.http_url}/realtime/v1/api/broadcast"
    body = {"messages": [{"topic": "room:rest", "event": "news", "payload": {"n": 1}}]}
    async with httpx.AsyncClient() as http:
        denied = await http.post(url, json=body)
        assert denied.status_code == 401
        ok = await http.post(url, json=body, headers={"apikey": realtime.keys.anon_key})
        assert ok.status_code == 202
        got = await ph.expect(is_event("broadcast", "realtime:room:rest"))
        assert got["payload"] == {"type": "broadcast", "event": "news", "payload": {"n": 1}}
        bad = await http.post(
            url, json={"messages": []}, headers={"apikey": realtime.keys.anon_key}
        )
        assert bad.status_code == 422
        # private: only a member of the room may send to its private channel
        host, outsider = new_user(), new_user()
        room_id, _key = await db.create_room(host, public=False)
        member = await Phoenix.open(realtime.ws_url())
        reply = await member.join(
            f"realtime:room:{room_id}", {"private": True}, access_token=user_token(host)
        )
        assert reply["status"] == "ok"
        for sender, text in ((outsider, "outsider"), (host, "host")):
            msg = {
                "topic": f"room:{room_id}",
                "event": "e",
                "payload": {"t": text},
                "private": True,
            }
            headers = {
                "apikey": realtime.keys.anon_key,
                "authorization": f"Bearer {user_token(sender)}",
            }
            assert (
                await http.post(url, json={"messages": [msg]}, headers=headers)
            ).status_code == 202
        got = await member.expect(is_event("broadcast"))
        assert got["payload"]["payload"] == {"t": "host"}
        await member.close()
    await ph.close()


async def test_private_channel_is_for_members_only(realtime: Server, db: Sql) -> None:
    host, outsider = new_user(), new_user()
    room_id, _key = await db.create_room(host, public=False)
    topic = f"realtime:room:{room_id}"
    ph = await Phoenix.open(realtime.ws_url())
    reply = await ph.join(topic, {"private": True}, access_token=user_token(outsider))
    assert reply["status"] == "error"
    assert reply["response"]["reason"] == (
        f"Unauthorized: You do not have permissions to read from this Channel topic: room:{room_id}"
    )
    reply = await ph.join(topic, {"private": True})  # the anon key: not a member either
    assert reply["status"] == "error"
    reply = await ph.join(topic, {"private": True}, access_token=user_token(host))
    assert reply["status"] == "ok"
    await ph.close()


async def test_postgres_changes_semantics(realtime: Server, db: Sql) -> None:
    host, member, stranger = new_user(), new_user(), new_user()
    room_id, key = await db.create_room(host, public=False)
    await db.join_room(member, room_id, key)
    topic = f"realtime:room:{room_id}"
    bindings = [
        {
            "event": "UPDATE",
            "schema": "public",
            "table": "rooms",
            "filter": f"room_id=eq.{room_id}",
        },
        {"event": "*", "schema": "public", "table": "room_members"},
    ]
    socks = {}
    for who in (host, member, stranger):
        ph = await Phoenix.open(realtime.ws_url())
        reply = await ph.join(topic, {"postgres_changes": bindings}, access_token=user_token(who))
        assert reply["status"] == "ok"
        echoed = reply["response"]["postgres_changes"]
        assert [{k: v for k, v in b.items() if k != "id"} for b in echoed] == bindings
        assert all(isinstance(b["id"], int) and b["id"] for b in echoed)
        system = await ph.expect(is_event("system", topic))
        assert system["payload"]["message"] == "Subscribed to PostgreSQL"
        socks[who] = (ph, [b["id"] for b in echoed])

    # No window: a change committed right after the join reply is delivered.
    await db.seek(host, room_id, 77.25)
    ph, ids = socks[member]
    change = await ph.expect(is_event("postgres_changes", topic))
    assert change["ref"] is None
    payload = change["payload"]
    assert payload["ids"] == [ids[0]]
    data = payload["data"]
    assert data["type"] == "UPDATE" and data["errors"] is None
    assert data["record"]["current_playback_time"] == 77.25
    assert data["record"]["is_playing"] is False and data["record"]["episode_number"] == 1
    assert data["record"]["playback_updated_at"].endswith("+00:00")
    assert data["old_record"]["current_playback_time"] == 0
    assert {"name": "current_playback_time", "type": "numeric"} in data["columns"]
    assert data["commit_timestamp"].endswith("Z") and len(data["commit_timestamp"]) == 24

    # The member leaves: its channel on the room's topic ends at once...
    await db.run(member, "select public.rooms_leave(p_room_id => %s)", (room_id,))
    closed = await ph.expect(is_event("system", topic))
    assert closed["payload"]["status"] == "error"
    assert "no longer have permission" in closed["payload"]["message"]
    await ph.expect(is_event("phx_close", topic))
    # ...and who may see the room gets the DELETE, with only the key (RLS is on).
    host_ph, _ = socks[host]
    deleted = await host_ph.expect(
        lambda m: is_event("postgres_changes")(m) and m["payload"]["data"]["type"] == "DELETE"
    )
    assert set(deleted["payload"]["data"]["old_record"]) == {"id"}
    assert "record" not in deleted["payload"]["data"]

    # The stranger saw none of the room's rows, not even the member's deletion.
    stranger_ph, _ = socks[stranger]
    assert not [m for m in await _until_heartbeat(stranger_ph) if m["event"] == "postgres_changes"]
    for sock, _ in socks.values():
        await sock.close()


async def _watch_room(realtime: Server, token: str, room_id: str) -> Phoenix:
    """A socket subscribed to the room's rooms UPDATEs, as the SDK subscribes."""
    ph = await Phoenix.open(realtime.ws_url())
    binding = {
        "event": "UPDATE",
        "schema": "public",
        "table": "rooms",
        "filter": f"room_id=eq.{room_id}",
    }
    topic = f"realtime:room:{room_id}"
    reply = await ph.join(topic, {"postgres_changes": [binding]}, access_token=token)
    assert reply["status"] == "ok"
    await ph.expect(is_event("system", topic))
    return ph


def _position(message: dict[str, Any]) -> float:
    return float(message["payload"]["data"]["record"]["current_playback_time"])


async def _until_heartbeat(ph: Phoenix) -> list[dict[str, Any]]:
    """Everything the socket receives before the reply to a heartbeat sent now: a socket's
    frames go out in order, so this is everything pushed to it so far."""
    ref = await ph.push("phoenix", "heartbeat", {})
    received: list[dict[str, Any]] = []
    while True:
        message = await ph.expect(lambda m: True)
        if message["event"] == "phx_reply" and message["ref"] == ref:
            return received
        received.append(message)


async def test_a_burst_of_changes_to_one_row(realtime: Server, db: Sql) -> None:
    # Changes of a row arriving while its RLS check runs share the next check: each one must
    # still reach every member once, in order, and no one else, and the row is checked at most
    # once per change.
    host, member, stranger = new_user(), new_user(), new_user()
    room_id, key = await db.create_room(host, public=False)
    await db.join_room(member, room_id, key)
    watching = await _watch_room(realtime, user_token(member), room_id)
    outside = await _watch_room(realtime, user_token(stranger), room_id)
    # A change committed before the subscriptions (the member's join) may still be on its way
    # and cost a check of its own. Changes are delivered in commit order, each after its check:
    # once a change committed now arrives, every earlier one has been checked.
    await db.set_position(host, room_id, 0.5)
    while _position(await watching.expect(is_event("postgres_changes"))) != 0.5:
        pass
    checks = realtime.service.stats()["rls_checks"]
    positions = [float(p) for p in range(1, 41)]
    for position in positions:
        await db.set_position(host, room_id, position)
    got: list[float] = []
    while not got or got[-1] != positions[-1]:
        got.append(_position(await watching.expect(is_event("postgres_changes"))))
    assert got == positions
    assert not [m for m in await _until_heartbeat(watching) if m["event"] == "postgres_changes"]
    assert not [m for m in await _until_heartbeat(outside) if m["event"] == "postgres_changes"]
    assert 1 <= realtime.service.stats()["rls_checks"] - checks <= len(positions)
    await watching.close()
    await outside.close()


async def test_changes_after_a_member_leaves_do_not_reach_it(realtime: Server, db: Sql) -> None:
    # However checks are shared, a change is checked after it committed: a member who left
    # before a change never gets it.
    host, member = new_user(), new_user()
    room_id, key = await db.create_room(host, public=False)
    await db.join_room(member, room_id, key)
    hosting = await _watch_room(realtime, user_token(host), room_id)
    leaving = await _watch_room(realtime, user_token(member), room_id)
    await db.set_position(host, room_id, 1)
    await db.run(member, "select public.rooms_leave(p_room_id => %s)", (room_id,))
    for position in (2, 3, 4):
        await db.set_position(host, room_id, position)
    while _position(await hosting.expect(is_event("postgres_changes"))) != 4:
        pass
    received = await _until_heartbeat(leaving)
    seen = {_position(m) for m in received if m["event"] == "postgres_changes"}
    # Changes from before the leave (the join's, position 1) may have been checked after it.
    assert seen <= {0.0, 1.0}
    await hosting.close()
    await leaving.close()


async def test_claims_that_break_the_policy_hide_the_row_from_that_subscriber_only(
    realtime: Server, db: Sql
) -> None:
    host, member = new_user(), new_user()
    room_id, key = await db.create_room(host, public=False)
    await db.join_room(member, room_id, key)
    good = await _watch_room(realtime, user_token(member), room_id)
    # auth.uid() cannot cast this sub to a uuid: the policy raises for this subscriber
    broken = await _watch_room(realtime, user_token("not-a-uuid"), room_id)
    await db.set_position(host, room_id, 5)
    await good.expect(lambda m: is_event("postgres_changes")(m) and _position(m) == 5)
    assert not [m for m in await _until_heartbeat(broken) if m["event"] == "postgres_changes"]
    await good.close()
    await broken.close()


async def test_bad_binding_reports_a_system_error(realtime: Server) -> None:
    ph = await Phoenix.open(realtime.ws_url())
    topic = "realtime:room:badbinding"
    binding = {"event": "*", "schema": "public", "table": "no_such_table"}
    reply = await ph.join(topic, {"postgres_changes": [binding]})
    assert reply["status"] == "ok"
    system = await ph.expect(is_event("system", topic))
    assert system["payload"]["status"] == "error"
    assert system["payload"]["message"].startswith("Unable to subscribe to changes")
    await ph.close()


async def test_a_table_published_a_moment_ago_can_be_subscribed_to_at_once(
    realtime: Server, db: Sql
) -> None:
    """The server keeps the publication's tables for a second; a binding naming a table it
    does not know yet makes it look again rather than refuse."""

    def subscribed(topic: str) -> Any:
        return lambda m: m["event"] == "system" and m["topic"] == topic

    ph = await Phoenix.open(realtime.ws_url())
    warm = {"postgres_changes": [{"event": "*", "schema": "public", "table": "rooms"}]}
    assert (await ph.join("realtime:warm", warm))["status"] == "ok"
    await ph.expect(subscribed("realtime:warm"))  # the list of tables is fresh now
    await db.run(None, "create table public.just_published (id int primary key)")
    try:
        await db.run(None, "alter publication supabase_realtime add table public.just_published")
        fresh = {
            "postgres_changes": [{"event": "*", "schema": "public", "table": "just_published"}]
        }
        assert (await ph.join("realtime:fresh", fresh))["status"] == "ok"
        system = await ph.expect(subscribed("realtime:fresh"))
        assert system["payload"]["message"] == "Subscribed to PostgreSQL", system
    finally:
        await db.run(None, "drop table public.just_published")
        await ph.close()
