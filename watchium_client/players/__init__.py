"""Media players the sync engine can drive."""

from __future__ import annotations

from watchium_client.players._mpv import MpvNotFoundError, MpvPlayer
from watchium_client.players._profiles import PlayerProfile
from watchium_client.players._protocol import (
    Player,
    PlayerClosedError,
    PlayerError,
    PlayerEvent,
    PlayerEventKind,
)
from watchium_client.players._simulated import SimulatedPlayer

__all__ = [
    "MpvNotFoundError",
    "MpvPlayer",
    "Player",
    "PlayerClosedError",
    "PlayerError",
    "PlayerEvent",
    "PlayerEventKind",
    "PlayerProfile",
    "SimulatedPlayer",
]
