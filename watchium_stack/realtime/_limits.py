"""Bounds the server applies per socket and per channel, and the token bucket that enforces its
rates."""

from __future__ import annotations

import time
from dataclasses import dataclass

__all__ = ["Limits", "TokenBucket"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds applied per socket and per channel (upstream's hosted defaults where they exist)."""

    max_frame_bytes: int = 1024 * 1024
    max_broadcast_bytes: int = 256 * 1024
    max_presence_bytes: int = 256 * 1024
    max_channels_per_socket: int = 100
    messages_per_second: float = 100.0
    message_burst: float = 200.0
    presence_per_second: float = 5.0
    presence_burst: float = 20.0
    max_buffer_bytes: int = 4 * 1024 * 1024
    # Seconds a close frame may wait for the transport before the connection is aborted.
    close_timeout: float = 5.0
    # Per client address (an IPv6 address by its /56, a customer's usual share): what one
    # address may hold at once. A party's member holds one socket, one channel and three
    # bindings; a household, or a whole watch party behind one NAT, stays far below these.
    max_sockets_per_address: int = 256
    max_channels_per_address: int = 512
    max_bindings_per_address: int = 1536
    # Behind a proxy: the header it appends the client's address to (its last address counts).
    client_address_header: str | None = None
    # Whether channels without ``config.private`` may be joined (hosted Supabase's "Allow public
    # access"). Off, as a Watchium project is configured: every channel is private, and
    # realtime.messages' policies decide who may join, send and track.
    allow_public_channels: bool = False


class TokenBucket:
    """``rate`` events per second with bursts up to ``burst``."""

    __slots__ = ("rate", "burst", "_tokens", "_stamp")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False
