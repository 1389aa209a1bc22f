"""What goes through the server, counted by kind: every frame a client sends and every frame the
server writes.

Hosted Supabase bills and limits Realtime by messages (docs/REALTIME.md, "Traffic and the hosted
budget"): each postgres_changes delivery, each presence and broadcast message. The local server
has no quota, so these counters are how a room's cost is measured here (``bench/realtime_cost.py``
reads them from ``GET /api/stats``).

Kinds, as the counters name them:

| direction | kind | what |
| --- | --- | --- |
| out | ``postgres_changes/<table>/<TYPE>`` | one change delivered to one channel |
| out | ``presence_diff``, ``presence_state`` | presence sent to one channel |
| out | ``broadcast`` | a broadcast relayed to one channel |
| out | ``phx_reply/heartbeat`` | the answer to a client's heartbeat |
| out | ``phx_reply``, ``system``, ``phx_close``, ``phx_error`` | the rest of the protocol |
| in | ``heartbeat``, ``phx_join``, ``phx_leave``, ``access_token``, ``broadcast`` | as sent |
| in | ``presence/track``, ``presence/untrack`` | presence pushes |
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from ._protocol import Inbound

__all__ = ["HEARTBEAT_REPLY", "Traffic", "inbound_kind"]

HEARTBEAT_REPLY = "phx_reply/heartbeat"


def inbound_kind(msg: Inbound) -> str:
    """The kind a client's message is counted under."""
    if msg.event == "presence":
        payload = msg.payload if isinstance(msg.payload, dict) else {}
        return f"presence/{str(payload.get('event', '')).lower() or '?'}"
    return msg.event


class Traffic:
    """Frames (and bytes) in and out, by kind, since the server started."""

    __slots__ = ("frames_in", "frames_out", "bytes_out")

    def __init__(self) -> None:
        self.frames_in: Counter[str] = Counter()
        self.frames_out: Counter[str] = Counter()
        self.bytes_out: Counter[str] = Counter()

    def received(self, msg: Inbound) -> None:
        """A client sent ``msg``."""
        self.frames_in[inbound_kind(msg)] += 1

    def sent(self, kind: str, size: int) -> None:
        """A frame of ``kind`` and ``size`` bytes was handed to one socket."""
        self.frames_out[kind] += 1
        self.bytes_out[kind] += size

    def snapshot(self) -> dict[str, Any]:
        """The counters as plain dictionaries (kind -> count)."""
        return {
            "frames_in": dict(self.frames_in),
            "frames_out": dict(self.frames_out),
            "bytes_out": dict(self.bytes_out),
        }
