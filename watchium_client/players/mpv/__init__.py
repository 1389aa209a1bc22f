"""mpv as a `Player`, driven over its JSON IPC (``--input-ipc-server``).

| module | holds |
| --- | --- |
| ``_ipc`` | :class:`MpvConnection`: requests and replies, events, property observation |
| ``_process`` | finding, starting and stopping mpv, waiting for its socket |
| ``_player`` | :class:`MpvPlayer`: the `Player` protocol on top of a connection |
| ``_expected`` | :class:`ExpectedChanges`: the player's own changes told from the user's |
| ``_position`` | :class:`PositionEstimate`: the position between mpv's reports |

docs/SYNC_ENGINE.md ("Players") has what was measured on a real mpv.
"""

from __future__ import annotations

from watchium_client.players.mpv._player import MpvPlayer
from watchium_client.players.mpv._process import MpvNotFoundError

__all__ = ["MpvNotFoundError", "MpvPlayer"]
