"""Keeping a player in step with a room: the server clock, the room's playback model, the
correction policy, the engine that applies it, drift statistics, and the host's group wait.

| module | holds |
| --- | --- |
| ``_clock`` | :class:`ClockSync`: the offset to the server clock from request round trips |
| ``_playback`` | :class:`PlaybackState`: where the room's playback is at any server time |
| ``_thresholds`` | :class:`SyncThresholds`: every tunable of the engine |
| ``_policy`` | the engine's decisions, pure functions of what was measured |
| ``_group_wait`` | :class:`GroupWaitPolicy`: the host pausing the room while members buffer |
| ``_policy_state`` | what the policy observes, remembers and decides |
| ``_learning`` | the player's seek latency and clock trim, learned |
| ``_speed_latency`` | :class:`SpeedLatency`: how long the player takes to change speed, learned |
| ``_engine`` | :class:`SyncEngine`: measures a player, decides, applies |
| ``_stats`` | :class:`DriftStats`: drift percentiles and correction counts |

docs/SYNC_ENGINE.md explains every threshold.
"""

from __future__ import annotations

from watchium_client.sync._clock import ClockSample, ClockSync, ServerTime, parse_server_time
from watchium_client.sync._engine import RoomReference, SyncEngine, SyncStatus
from watchium_client.sync._group_wait import GroupWaitAction, GroupWaitDecision, GroupWaitPolicy
from watchium_client.sync._playback import PlaybackState
from watchium_client.sync._policy import Correction, SyncPhase
from watchium_client.sync._stats import DriftStats, DriftSummary, percentile
from watchium_client.sync._thresholds import SyncThresholds

__all__ = [
    "ClockSample",
    "ClockSync",
    "Correction",
    "DriftStats",
    "DriftSummary",
    "GroupWaitAction",
    "GroupWaitDecision",
    "GroupWaitPolicy",
    "PlaybackState",
    "RoomReference",
    "ServerTime",
    "SyncEngine",
    "SyncPhase",
    "SyncStatus",
    "SyncThresholds",
    "parse_server_time",
    "percentile",
]
