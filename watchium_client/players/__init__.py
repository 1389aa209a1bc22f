"""Media players the sync engine can drive."""

from __future__ import annotations

from watchium_client.players._profiles import PlayerProfile
from watchium_client.players._protocol import (
    Player,
    PlayerClosedError,
    PlayerError,
    PlayerEvent,
    PlayerEventKind,
)
from watchium_client.players._simulated import SimulatedPlayer
from watchium_client.players.mpv import MpvNotFoundError, MpvPlayer

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
