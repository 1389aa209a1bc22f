"""Watchium SDK: build watch-party apps on Supabase in Python.

* :class:`WatchiumClient` calls every Watchium function with typed answers and keeps the server
  clock offset;
* the sync engine (:class:`SyncEngine`, :class:`ClockSync`, :class:`RoomState`) keeps a player in
  step with the room;
* :class:`RoomSession` follows one room live (Realtime, presence, heartbeats) and keeps a
  player in step through the engine;
* players live in :mod:`watchium_client.players` (a simulated one and mpv);
* every refusal is a :class:`WatchiumError` subclass named for its error code.
"""

from __future__ import annotations

import logging

from watchium_client._api import WatchiumClient
from watchium_client._clock import ClockSample, ClockSync, ServerTime, parse_server_time
from watchium_client._errors import (
    CommentNotFound,
    Conflict,
    ConnectionFailed,
    Forbidden,
    FunctionNotFound,
    InvalidInput,
    KeyChecksPaused,
    MethodNotAllowed,
    NotFound,
    NotHost,
    NotMember,
    RateLimited,
    RoomFull,
    RoomNotFound,
    ServerError,
    ServiceUnavailable,
    SignInRequired,
    TooLarge,
    UnsupportedMediaType,
    WatchiumError,
    WrongAccessKey,
    error_from_response,
    registered_codes,
)
from watchium_client._models import (
    Comment,
    Commenter,
    CommentsHistory,
    CommentsPage,
    EpisodeActivity,
    HourActivity,
    LiveRoom,
    Member,
    MembersList,
    MemberStatus,
    MemberStatusResult,
    PublicRoom,
    RealtimeBinding,
    RealtimeHints,
    Room,
    RoomsCreateResult,
    RoomsDeleteResult,
    RoomsJoinResult,
    RoomsLeaveResult,
    RoomsListPublicResult,
)
from watchium_client._room_state import RoomState
from watchium_client._session import NewRoom, RoomSession, SessionTimings
from watchium_client._session_events import (
    CommentPosted,
    ConnectionLost,
    ConnectionRestored,
    EventSource,
    HostChanged,
    MemberJoined,
    MemberLeft,
    MemberPresence,
    MemberUpdated,
    PresenceSynced,
    RoomChanged,
    RoomDeleted,
    RoomEvent,
)
from watchium_client._sync_engine import SyncEngine, SyncStatus
from watchium_client._sync_policy import (
    GroupWaitAction,
    GroupWaitDecision,
    GroupWaitPolicy,
    SyncPhase,
    SyncThresholds,
)
from watchium_client._sync_stats import DriftStats, DriftSummary

__all__ = [
    # client
    "WatchiumClient",
    # sessions
    "NewRoom",
    "RoomSession",
    "SessionTimings",
    "CommentPosted",
    "ConnectionLost",
    "ConnectionRestored",
    "EventSource",
    "HostChanged",
    "MemberJoined",
    "MemberLeft",
    "MemberPresence",
    "MemberUpdated",
    "PresenceSynced",
    "RoomChanged",
    "RoomDeleted",
    "RoomEvent",
    # sync
    "ClockSample",
    "ClockSync",
    "DriftStats",
    "DriftSummary",
    "GroupWaitAction",
    "GroupWaitDecision",
    "GroupWaitPolicy",
    "RoomState",
    "ServerTime",
    "SyncEngine",
    "SyncPhase",
    "SyncStatus",
    "SyncThresholds",
    "parse_server_time",
    # wire types
    "Comment",
    "Commenter",
    "CommentsHistory",
    "CommentsPage",
    "EpisodeActivity",
    "HourActivity",
    "LiveRoom",
    "Member",
    "MemberStatus",
    "MemberStatusResult",
    "MembersList",
    "PublicRoom",
    "RealtimeBinding",
    "RealtimeHints",
    "Room",
    "RoomsCreateResult",
    "RoomsDeleteResult",
    "RoomsJoinResult",
    "RoomsLeaveResult",
    "RoomsListPublicResult",
    # errors
    "CommentNotFound",
    "Conflict",
    "ConnectionFailed",
    "Forbidden",
    "FunctionNotFound",
    "InvalidInput",
    "KeyChecksPaused",
    "MethodNotAllowed",
    "NotFound",
    "NotHost",
    "NotMember",
    "RateLimited",
    "RoomFull",
    "RoomNotFound",
    "ServerError",
    "ServiceUnavailable",
    "SignInRequired",
    "TooLarge",
    "UnsupportedMediaType",
    "WatchiumError",
    "WrongAccessKey",
    "error_from_response",
    "registered_codes",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
