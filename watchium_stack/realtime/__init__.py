"""The local Supabase Realtime server: the Phoenix channel protocol (1.0.0 and 2.0.0) with
postgres_changes read by logical decoding and authorised per subscriber by RLS, broadcast and
presence. See docs/REALTIME.md."""

from __future__ import annotations

from ._limits import Limits
from ._service import DEFAULT_SLOT, PUBLICATION, RealtimeService
from ._socket import FastWrite, SharedFrame
from ._uvicorn import uvicorn_fast_write

__all__ = [
    "DEFAULT_SLOT",
    "PUBLICATION",
    "FastWrite",
    "Limits",
    "RealtimeService",
    "SharedFrame",
    "uvicorn_fast_write",
]
