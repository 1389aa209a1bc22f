"""The local Supabase Realtime server: the Phoenix channel protocol (1.0.0 and 2.0.0) with
postgres_changes read by logical decoding and authorised per subscriber by RLS, broadcast and
presence. See docs/REALTIME.md."""

from __future__ import annotations

from ._limits import Limits
from ._service import DEFAULT_SLOT, PUBLICATION, RealtimeService

__all__ = ["RealtimeService", "Limits", "DEFAULT_SLOT", "PUBLICATION"]
