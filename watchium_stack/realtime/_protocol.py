"""The Phoenix channel frame codec: serializer versions 1.0.0 and 2.0.0.

* 1.0.0: text frames holding a JSON object ``{"topic", "event", "payload", "ref", "join_ref"}``.
* 2.0.0: text frames holding a JSON array ``[join_ref, ref, topic, event, payload]``, and binary
  broadcast frames: a client pushes kind 3 (USER_BROADCAST_PUSH), the server sends kind 4
  (USER_BROADCAST), both with the user payload either raw (encoding 0) or JSON (encoding 1).

Outgoing frames are built once per (version, topic) and shared by every socket they go to, which
is why server pushes carry ``join_ref: null`` (as upstream's fastlane does): clients accept a push
without a join_ref for the channel they joined.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = [
    "VSN_1",
    "VSN_2",
    "VERSIONS",
    "ProtocolError",
    "BinaryBroadcast",
    "Inbound",
    "decode_text",
    "decode_binary",
    "encode_text",
    "encode_user_broadcast",
    "ENCODING_BINARY",
    "ENCODING_JSON",
]

VSN_1 = "1.0.0"
VSN_2 = "2.0.0"
VERSIONS = frozenset({VSN_1, VSN_2})

_USER_BROADCAST_PUSH = 3
_USER_BROADCAST = 4
ENCODING_BINARY = 0
ENCODING_JSON = 1


class ProtocolError(ValueError):
    """A frame that is not a valid Phoenix message for the socket's serializer version."""


@dataclass(frozen=True, slots=True)
class BinaryBroadcast:
    """A broadcast pushed as a binary frame: the user payload stays as the bytes it came in."""

    event: str
    encoding: int  # ENCODING_BINARY or ENCODING_JSON
    data: bytes
    meta: bytes  # JSON object or empty


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message from a client. ``binary`` is set for a kind-3 frame (payload is then {})."""

    topic: str
    event: str
    payload: Any
    ref: str | None
    join_ref: str | None
    binary: BinaryBroadcast | None = None


def _ref(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ProtocolError("ref and join_ref must be strings or null")


def decode_text(vsn: str, text: str | bytes) -> Inbound:
    """Decode a text frame.

    Raises:
        ProtocolError: when the frame is not JSON or not the shape ``vsn`` defines.
    """
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"frame is not JSON: {exc}") from None
    if vsn == VSN_2:
        if not isinstance(data, list) or len(data) < 5:
            raise ProtocolError("expected a V2 array [join_ref, ref, topic, event, payload]")
        join_ref, ref, topic, event, payload = data[:5]
    else:
        if not isinstance(data, dict):
            raise ProtocolError("expected a JSON object with topic, event, payload and ref")
        if "topic" not in data or "event" not in data or "payload" not in data:
            raise ProtocolError("a message needs topic, event and payload")
        topic, event, payload = data["topic"], data["event"], data["payload"]
        ref, join_ref = data.get("ref"), data.get("join_ref")
    if not isinstance(topic, str) or not isinstance(event, str):
        raise ProtocolError("topic and event must be strings")
    return Inbound(topic, event, payload, _ref(ref), _ref(join_ref))


def decode_binary(data: bytes) -> Inbound:
    """Decode a binary frame (only kind 3, a user broadcast push, is defined for clients).

    Raises:
        ProtocolError: for another kind or a truncated frame.
    """
    if len(data) < 7:
        raise ProtocolError("binary frame is too short")
    kind = data[0]
    if kind != _USER_BROADCAST_PUSH:
        raise ProtocolError(f"unsupported binary frame kind {kind}")
    join_ref_len, ref_len, topic_len, event_len, meta_len, encoding = data[1:7]
    pos = 7
    end = pos + join_ref_len + ref_len + topic_len + event_len + meta_len
    if end > len(data):
        raise ProtocolError("binary frame is truncated")
    if encoding not in (ENCODING_BINARY, ENCODING_JSON):
        raise ProtocolError(f"unknown payload encoding {encoding}")
    try:
        join_ref = data[pos : pos + join_ref_len].decode()
        pos += join_ref_len
        ref = data[pos : pos + ref_len].decode()
        pos += ref_len
        topic = data[pos : pos + topic_len].decode()
        pos += topic_len
        event = data[pos : pos + event_len].decode()
        pos += event_len
    except UnicodeDecodeError:
        raise ProtocolError("binary frame header is not UTF-8") from None
    meta = bytes(data[pos : pos + meta_len])
    payload = bytes(data[end:])
    return Inbound(
        topic=topic,
        event="broadcast",
        payload={},
        ref=ref or None,
        join_ref=join_ref or None,
        binary=BinaryBroadcast(event=event, encoding=encoding, data=payload, meta=meta),
    )


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def encode_text(
    vsn: str, join_ref: str | None, ref: str | None, topic: str, event: str, payload: Any
) -> str:
    """Encode a message as the text frame ``vsn`` defines (``ref`` always present)."""
    if vsn == VSN_2:
        return _dumps([join_ref, ref, topic, event, payload])
    return _dumps(
        {"topic": topic, "event": event, "payload": payload, "ref": ref, "join_ref": join_ref}
    )


def encode_user_broadcast(topic: str, event: str, encoding: int, data: bytes, meta: bytes) -> bytes:
    """A kind-4 USER_BROADCAST frame for 2.0.0 sockets.

    Raises:
        ProtocolError: when topic, event or meta is longer than 255 bytes.
    """
    topic_b = topic.encode()
    event_b = event.encode()
    if len(topic_b) > 255 or len(event_b) > 255 or len(meta) > 255:
        raise ProtocolError("topic, event and meta must be at most 255 bytes")
    header = bytes((_USER_BROADCAST, len(topic_b), len(event_b), len(meta), encoding))
    return header + topic_b + event_b + meta + data
