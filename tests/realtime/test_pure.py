"""Pure logic of the Realtime server, without a server: pgoutput parsing, value rendering,
filters, the frame codec and presence state."""

from __future__ import annotations

import json
import struct
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from websockets.protocol import State
from websockets.server import ServerProtocol

from watchium_stack.realtime._filters import FilterError, compile_filters, parse_filters
from watchium_stack.realtime._pgoutput import (
    UNCHANGED_TOAST,
    Begin,
    Commit,
    Delete,
    Insert,
    PgOutputError,
    Relation,
    Truncate,
    Update,
    parse_message,
)
from watchium_stack.realtime._pgtypes import TypeRegistry, parse_array
from watchium_stack.realtime._presence import Presences
from watchium_stack.realtime._protocol import (
    VSN_1,
    VSN_2,
    ProtocolError,
    decode_binary,
    decode_text,
    encode_text,
    encode_user_broadcast,
)
from watchium_stack.realtime._socket import SharedFrame
from watchium_stack.realtime._subscriptions import Subscription, TableIndex, binding_id

# -- pgoutput ---------------------------------------------------------------------------------


def _tuple(*values: str | None) -> bytes:
    out = struct.pack("!h", len(values))
    for v in values:
        if v is None:
            out += b"n"
        elif v == "<toast>":
            out += b"u"
        else:
            data = v.encode()
            out += b"t" + struct.pack("!i", len(data)) + data
    return out


def test_pgoutput_messages() -> None:
    begin = parse_message(b"B" + struct.pack("!QqI", 0x16, 123456, 42))
    assert begin == Begin(final_lsn=0x16, commit_time=123456, xid=42)
    commit = parse_message(b"C" + struct.pack("!BQQq", 0, 10, 20, 99))
    assert commit == Commit(flags=0, commit_lsn=10, end_lsn=20, commit_time=99)
    rel = parse_message(
        b"R"
        + struct.pack("!I", 16384)
        + b"public\0rooms\0f"
        + struct.pack("!h", 2)
        + b"\x01id\0"
        + struct.pack("!Ii", 2950, -1)
        + b"\x00title\0"
        + struct.pack("!Ii", 1043, 259)
    )
    assert isinstance(rel, Relation)
    assert (rel.namespace, rel.name, rel.replica_identity) == ("public", "rooms", "f")
    assert [(c.name, c.type_oid, c.is_key) for c in rel.columns] == [
        ("id", 2950, True),
        ("title", 1043, False),
    ]
    ins = parse_message(b"I" + struct.pack("!I", 16384) + b"N" + _tuple("a", None))
    assert ins == Insert(relid=16384, new=("a", None))
    upd = parse_message(
        b"U" + struct.pack("!I", 1) + b"O" + _tuple("a", "x") + b"N" + _tuple("a", "<toast>")
    )
    assert isinstance(upd, Update) and upd.old == ("a", "x") and not upd.old_is_key_only
    assert upd.new == ("a", UNCHANGED_TOAST)
    upd2 = parse_message(b"U" + struct.pack("!I", 1) + b"N" + _tuple("b"))
    assert isinstance(upd2, Update) and upd2.old is None
    dele = parse_message(b"D" + struct.pack("!I", 1) + b"K" + _tuple("a"))
    assert dele == Delete(relid=1, old=("a",), old_is_key_only=True)
    trunc = parse_message(b"T" + struct.pack("!ib", 2, 0) + struct.pack("!II", 5, 6))
    assert trunc == Truncate(options=0, relids=(5, 6))


@pytest.mark.parametrize(
    "data", [b"", b"Z", b"B\x00", b"I" + struct.pack("!I", 1) + b"X", b"R\x00\x00\x00\x01abc"]
)
def test_pgoutput_rejects_garbage(data: bytes) -> None:
    with pytest.raises(PgOutputError):
        parse_message(data)


# -- values -----------------------------------------------------------------------------------


def test_values_render_like_to_jsonb() -> None:
    types = TypeRegistry()
    assert types.render(23, "42") == 42
    assert types.render(1700, "12.50") == 12.5
    assert types.render(1700, "7") == 7
    assert types.render(1700, "NaN") == "NaN"
    assert types.render(16, "t") is True and types.render(16, "f") is False
    assert types.render(3802, '{"a": [1, 2]}') == {"a": [1, 2]}
    assert types.render(1184, "2026-11-19 00:22:40.877+00") == "2026-11-19T00:22:40.877+00:00"
    assert types.render(1184, "2026-11-19 00:22:40+05:30") == "2026-11-19T00:22:40+05:30"
    assert types.render(1114, "2026-11-19 00:22:40") == "2026-11-19T00:22:40"
    assert types.render(1082, "2026-11-19") == "2026-11-19"
    assert types.render(2950, "0e5f") == "0e5f"
    assert types.render(1007, "{1,2,NULL}") == [1, 2, None]
    assert types.render(1009, '{a,"b,c","d\\"e"}') == ["a", "b,c", 'd"e']
    assert types.render(1007, "{{1,2},{3,4}}") == [[1, 2], [3, 4]]
    assert types.render(23, None) is None
    assert types.render(99999, "whatever") == "whatever"
    types.learn(70000, "score", "d", "N", base_oid=23)
    assert types.render(70000, "5") == 5


def test_array_parser_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        parse_array("{1,2", str)


# -- filters ----------------------------------------------------------------------------------

COLUMNS = {
    "room_id": "varchar",
    "n": "int4",
    "pos": "numeric",
    "ok": "bool",
    "at": "timestamptz",
    "id": "uuid",
}


FILTER_CASES = [
    ("room_id=eq.abc", {"room_id": "abc"}, True),
    ("room_id=eq.abc", {"room_id": "abd"}, False),
    ("room_id=neq.abc", {"room_id": "abd"}, True),
    ("n=lt.10", {"n": 9}, True),
    ("n=lte.10", {"n": 10}, True),
    ("n=gt.10", {"n": 10}, False),
    ("n=gte.10", {"n": 10}, True),
    ("n=gt.9", {"n": 10}, True),  # numeric, not text, comparison
    ("pos=eq.12.50", {"pos": 12.5}, True),
    ("n=in.(1,2,3)", {"n": 2}, True),
    ("n=in.(1,2,3)", {"n": 4}, False),
    ('room_id=in.("a,b",c)', {"room_id": "a,b"}, True),
    ("ok=eq.true", {"ok": True}, True),
    ("ok=is.false", {"ok": False}, True),
    ("room_id=is.null", {"room_id": None}, True),
    ("room_id=eq.abc", {"room_id": None}, False),
    ("room_id=neq.abc", {"room_id": None}, False),
    ("room_id=not.eq.abc", {"room_id": "x"}, True),
    ("room_id=like.ab%", {"room_id": "abc"}, True),
    ("room_id=ilike.AB_", {"room_id": "abc"}, True),
    ("room_id=isdistinct.null", {"room_id": "x"}, True),
    ("at=gt.2026-01-01T00:00:00Z", {"at": "2026-11-19T00:22:40.877+00:00"}, True),
    ("at=lt.2026-01-01 00:00:00+00", {"at": "2026-11-19T00:22:40+00:00"}, False),
    (
        "id=eq.0E5F6A7B-0000-4000-8000-000000000001",
        {"id": "0e5f6a7b-0000-4000-8000-000000000001"},
        True,
    ),
    ("room_id=eq.abc,n=gt.1", {"room_id": "abc", "n": 2}, True),
    ("room_id=eq.abc,n=gt.1", {"room_id": "abc", "n": 1}, False),
]


@pytest.mark.parametrize(("flt", "record", "expected"), FILTER_CASES)
def test_filters(flt: str, record: dict[str, object], expected: bool) -> None:
    assert compile_filters(parse_filters(flt), COLUMNS).matches(record) is expected


@pytest.mark.parametrize(("flt", "record", "expected"), FILTER_CASES)
def test_subscription_index_agrees_with_filters(
    flt: str, record: dict[str, object], expected: bool
) -> None:
    # Equality filters are looked up by value, the others tested: the answers must not differ.
    index = TableIndex()
    sub = _subscription(flt, event="*")
    index.add(sub)
    assert index.matching("UPDATE", record) == ([sub] if expected else [])
    assert index.matching("DELETE", record) == [sub]  # a DELETE passes every filter


def test_subscription_index_lookup_events_and_removal() -> None:
    index = TableIndex()
    a, b = _subscription("room_id=eq.a"), _subscription("room_id=eq.a")
    c, inserts = _subscription("room_id=eq.c"), _subscription("room_id=eq.a", event="INSERT")
    typed, other = _subscription("pos=eq.12.5"), _subscription("n=gt.1", event="*")
    for sub in (a, b, c, inserts, typed, other):
        index.add(sub)
    assert set(index.by_value) == {"room_id", "pos"} and list(index.others) == [other]
    assert index.matching("UPDATE", {"room_id": "a", "n": 0}) == [a, b]
    assert index.matching("INSERT", {"room_id": "a", "n": 2}) == [inserts, other]
    assert index.matching("UPDATE", {"pos": 12.50}) == [typed]  # compared as numbers
    b.member.active = False
    assert index.matching("UPDATE", {"room_id": "a"}) == [a]
    for sub in (a, b, inserts, other):
        index.discard(sub)
    assert index.matching("UPDATE", {"room_id": "a", "n": 5}) == []
    assert {(s.filter.equality or ("", None))[1] for s in index} == {"c", Decimal("12.5")}
    index.discard(c)
    index.discard(typed)
    assert not index and not index.by_value["room_id"][1]


def _subscription(flt: str, *, event: str = "UPDATE") -> Subscription:
    member: Any = SimpleNamespace(active=True)
    compiled = compile_filters(parse_filters(flt), COLUMNS)
    return Subscription(1, member, "public", "rooms", event, compiled, None)


@pytest.mark.parametrize(
    "flt", ["room_id", "room_id=foo.bar", "n=in.1,2", "room_id=match.a.*", "x=eq.1", "n=eq.abc"]
)
def test_bad_filters(flt: str) -> None:
    with pytest.raises(FilterError):
        compile_filters(parse_filters(flt), COLUMNS)


def test_no_filter_matches_everything() -> None:
    assert parse_filters(None) == () and parse_filters("  ") == ()
    assert compile_filters((), COLUMNS).matches({})


def test_binding_ids_are_stable_and_truthy() -> None:
    a = {"event": "UPDATE", "schema": "public", "table": "rooms", "filter": "room_id=eq.x"}
    assert binding_id(a) == binding_id(dict(reversed(list(a.items()))))
    assert binding_id(a) != binding_id({**a, "filter": "room_id=eq.y"})
    assert 0 < binding_id(a) < 2**27


# -- frame codec ------------------------------------------------------------------------------


def test_text_frames_round_trip() -> None:
    v1 = encode_text(VSN_1, "1", "2", "realtime:t", "phx_join", {"a": 1})
    assert json.loads(v1) == {
        "topic": "realtime:t",
        "event": "phx_join",
        "payload": {"a": 1},
        "ref": "2",
        "join_ref": "1",
    }
    msg = decode_text(VSN_1, v1)
    assert (msg.topic, msg.event, msg.ref, msg.join_ref) == ("realtime:t", "phx_join", "2", "1")
    v2 = encode_text(VSN_2, None, "3", "phoenix", "heartbeat", {})
    assert json.loads(v2) == [None, "3", "phoenix", "heartbeat", {}]
    assert decode_text(VSN_2, v2).ref == "3"


@pytest.mark.parametrize(
    ("vsn", "frame"),
    [
        (VSN_1, "not json"),
        (VSN_1, "[1,2,3,4,5]"),
        (VSN_1, '{"topic": 1, "event": "x", "payload": {}}'),
        (VSN_1, '{"event": "x", "payload": {}}'),
        (VSN_2, '{"topic": "t"}'),
        (VSN_2, '[null, null, "t"]'),
        (VSN_2, '[null, {}, "t", "e", {}]'),
    ],
)
def test_bad_text_frames(vsn: str, frame: str) -> None:
    with pytest.raises(ProtocolError):
        decode_text(vsn, frame)


def test_binary_broadcast_push_and_user_broadcast() -> None:
    join_ref, ref, topic, event, meta, payload = b"1", b"2", b"realtime:r", b"chat", b"", b'{"a":1}'
    frame = (
        bytes([3, len(join_ref), len(ref), len(topic), len(event), len(meta), 1])
        + join_ref
        + ref
        + topic
        + event
        + meta
        + payload
    )
    msg = decode_binary(frame)
    assert (msg.topic, msg.event, msg.ref, msg.join_ref) == ("realtime:r", "broadcast", "2", "1")
    assert msg.binary is not None
    assert (msg.binary.event, msg.binary.encoding, msg.binary.data) == ("chat", 1, payload)
    out = encode_user_broadcast("realtime:r", "chat", 1, payload, b"")
    assert out[0] == 4 and out[1:5] == bytes([10, 4, 0, 1]) and out.endswith(payload)
    for bad in (b"\x03\x01", frame[:10], b"\x01" + frame[1:], frame[:6] + b"\x07" + frame[7:]):
        with pytest.raises(ProtocolError):
            decode_binary(bad)


# -- presence ---------------------------------------------------------------------------------


def test_presence_track_update_untrack() -> None:
    p = Presences()
    diff = p.track("a", "user1", {"pos": 1})
    assert diff is not None and list(diff["joins"]) == ["user1"] and diff["leaves"] == {}
    first_ref = diff["joins"]["user1"]["metas"][0]["phx_ref"]
    assert p.track("a", "user1", {"pos": 1}) is None  # same payload: nothing changes
    diff = p.track("a", "user1", {"pos": 2})
    assert diff is not None
    assert diff["leaves"]["user1"]["metas"][0]["phx_ref"] == first_ref
    joined = diff["joins"]["user1"]["metas"][0]
    assert joined["phx_ref_prev"] == first_ref and joined["pos"] == 2
    p.track("b", "user1", {"pos": 3})  # the same user on a second device
    assert len(p.state()["user1"]["metas"]) == 2
    diff = p.untrack("a")
    assert diff is not None and diff["leaves"]["user1"]["metas"][0]["pos"] == 2
    assert p.untrack("a") is None
    assert [m["pos"] for m in p.state()["user1"]["metas"]] == [3]


# -- websocket frames -------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70000])
@pytest.mark.parametrize("binary", [False, True])
def test_prepared_frames_are_what_the_protocol_writes(size: int, binary: bool) -> None:
    # A shared frame is written straight to uvicorn's transports: its bytes must be what the
    # websockets protocol under uvicorn would write for the same message.
    data: str | bytes = b"\x07" * size if binary else "\u00e9" * (size // 2) + "x" * (size % 2)
    protocol = ServerProtocol()
    protocol.state = State.OPEN
    if isinstance(data, bytes):
        protocol.send_binary(data)
    else:
        protocol.send_text(data.encode())
    expected = b"".join(protocol.data_to_send())
    shared = SharedFrame(data)
    assert shared.wire == expected and shared.wire is shared.wire and len(shared) == len(data)
