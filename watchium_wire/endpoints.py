# Over 500 lines: every function of the API in one table, as the functions app and the SDK read it.
"""Every function of the API, in one table: its name, request body, answer and refusals.

``POST /functions/v1/<name>`` takes the JSON body :attr:`Endpoint.request` and answers
``{"data": <response>, "server_time": ...}``. Each function is one SQL function,
``public.<name with underscores>``, whose parameters are the request's fields prefixed ``p_``: the
function app derives the call from the model, the SDK names the endpoint it calls, and the OpenAPI
document is generated from this table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from watchium_wire.night_requests import (
    MembersSetCohostRequest,
    QueueAddRequest,
    QueueAutoAdvanceRequest,
    QueueGetRequest,
    QueueGoRequest,
    QueueMoveRequest,
    QueueRemoveRequest,
    ReadyCheckRespondRequest,
    ReadyCheckSettleRequest,
    ReadyCheckStartRequest,
    RoomsModerateRequest,
    RoomsSetSkipsRequest,
    RoomsSkipRequest,
)
from watchium_wire.requests import (
    CommentsCreateRequest,
    CommentsGetByEpisodeRequest,
    CommentsGetHistoryRequest,
    CommentsMarkReadRequest,
    CommentsReactRequest,
    CommentsReplayRequest,
    CommentsUnreadRequest,
    MembersGetListRequest,
    MembersUpdateStatusRequest,
    RoomsCreateInviteRequest,
    RoomsCreateRequest,
    RoomsDeleteRequest,
    RoomsJoinRequest,
    RoomsLeaveRequest,
    RoomsListPublicRequest,
    RoomsRotateAccessKeyRequest,
    RoomsStatsRequest,
    SyncControlRequest,
    SyncGetHostTimeRequest,
)
from watchium_wire.responses import (
    Comment,
    CommentsHistory,
    CommentsPage,
    MembersList,
    MembersSetCohostResult,
    MemberStatusResult,
    QueueEntryResult,
    QueueGoResult,
    QueueRemoveResult,
    ReactionResult,
    ReadState,
    ReadyCheck,
    ReadyCheckStartResult,
    ReplayWindow,
    RoomQueue,
    RoomsCreateInviteResult,
    RoomsCreateResult,
    RoomsDeleteResult,
    RoomsJoinResult,
    RoomsLeaveResult,
    RoomsListPublicResult,
    RoomsModerateResult,
    RoomSnapshot,
    RoomsRotateAccessKeyResult,
    RoomsSkipResult,
    RoomStats,
)

__all__ = [
    "Endpoint",
    "ENDPOINTS",
    "ROOMS_CREATE",
    "ROOMS_JOIN",
    "ROOMS_LEAVE",
    "ROOMS_DELETE",
    "ROOMS_ROTATE_ACCESS_KEY",
    "ROOMS_CREATE_INVITE",
    "ROOMS_MODERATE",
    "MEMBERS_SET_COHOST",
    "ROOMS_LIST_PUBLIC",
    "SYNC_CONTROL",
    "SYNC_GET_HOST_TIME",
    "COMMENTS_CREATE",
    "COMMENTS_GET_BY_EPISODE",
    "COMMENTS_GET_HISTORY",
    "COMMENTS_REPLAY",
    "COMMENTS_REACT",
    "COMMENTS_MARK_READ",
    "COMMENTS_UNREAD",
    "ROOMS_STATS",
    "MEMBERS_GET_LIST",
    "MEMBERS_UPDATE_STATUS",
    "QUEUE_GET",
    "QUEUE_ADD",
    "QUEUE_REMOVE",
    "QUEUE_MOVE",
    "QUEUE_GO",
    "QUEUE_AUTO_ADVANCE",
    "ROOMS_SET_SKIPS",
    "ROOMS_SKIP",
    "READY_CHECK_START",
    "READY_CHECK_RESPOND",
    "READY_CHECK_SETTLE",
]

RequestT = TypeVar("RequestT", bound=BaseModel)
ResponseT = TypeVar("ResponseT", bound=BaseModel)

_DEFAULT_ERRORS = (400, 401, 403, 404, 429)


@dataclass(frozen=True)
class Endpoint(Generic[RequestT, ResponseT]):
    """One function: ``POST /functions/v1/<name>``."""

    name: str
    request: type[RequestT]
    response: type[ResponseT]
    summary: str
    description: str
    errors: tuple[int, ...] = _DEFAULT_ERRORS
    """The refusal statuses it may answer (besides those every function may)."""
    too_large_fields: frozenset[str] = field(default_factory=frozenset)
    """Fields whose over-long value is a 413 (the database's WR413), not a 400."""
    body_required: bool = True

    @property
    def sql_function(self) -> str:
        """The ``public`` SQL function that serves it."""
        return self.name.replace("-", "_")


ROOMS_CREATE = Endpoint(
    "rooms-create",
    RoomsCreateRequest,
    RoomsCreateResult,
    summary="Create a room",
    description=(
        "Create a room hosted by the caller. Returns the room (with its live position), the "
        "host's membership, the private room's access key (shown only here) and the Realtime "
        "channel to follow. Limited to 10 rooms per hour per user."
    ),
    errors=(400, 401, 403, 429),
)
ROOMS_JOIN = Endpoint(
    "rooms-join",
    RoomsJoinRequest,
    RoomsJoinResult,
    summary="Join a room",
    description=(
        "Join a room (joining again is free and refreshes the membership). A private room needs "
        "its 6-digit access key or a host's invite (``invite_token``). A room that does not "
        "exist and a private room without the right key or invite get the same answer, 404 "
        "WR404, and each such attempt counts, per user and per client address (too many: 429 "
        "WRL29, and trying while paused extends the pause). Returns the room, the membership "
        "and the Realtime channel to follow."
    ),
    errors=(400, 401, 403, 404, 409, 429),
)
ROOMS_ROTATE_ACCESS_KEY = Endpoint(
    "rooms-rotate-access-key",
    RoomsRotateAccessKeyRequest,
    RoomsRotateAccessKeyResult,
    summary="Rotate a private room's access key (host)",
    description=(
        "Give the private room a new 6-digit key. The old key and every invite stop working at "
        "once; members stay. Host only (403 WRH03); a public room has no key (400 WR400)."
    ),
)
ROOMS_CREATE_INVITE = Endpoint(
    "rooms-create-invite",
    RoomsCreateInviteRequest,
    RoomsCreateInviteResult,
    summary="Invite someone to a private room (host)",
    description=(
        "A signed invite token to the private room, valid ``ttl_seconds`` (60 s to 7 days, "
        "default a day) or until the key is rotated: ``rooms-join`` with ``invite_token`` joins "
        "without the key. Unlike the 6-digit key it cannot be guessed. Host only (403 WRH03)."
    ),
)
ROOMS_MODERATE = Endpoint(
    "rooms-moderate",
    RoomsModerateRequest,
    RoomsModerateResult,
    summary="Kick, ban or mute a member (host or co-host)",
    description=(
        "Moderate a member: ``kick`` removes them (their Realtime channel ends at once; they may "
        "join again), ``ban`` removes them and refuses every later join with any key or invite "
        "(403 WRB03), ``mute`` refuses their comments in the room (403 WRS03); ``unban`` and "
        "``unmute`` lift those. Each change leaves a system message in the room's thread and an "
        "audit row. Host or co-host only, and a co-host may not act on the host or another "
        "co-host (403 WRH03); kicking or muting someone not in the room is 403 WRM03. 60 per "
        "hour (429 WR429)."
    ),
)
MEMBERS_SET_COHOST = Endpoint(
    "members-set-cohost",
    MembersSetCohostRequest,
    MembersSetCohostResult,
    summary="Grant or revoke co-host (host)",
    description=(
        "Make a member co-host (``is_cohost`` true) or not. A co-host controls playback with "
        "sync-control and moderates members; when the host leaves, the earliest co-host takes "
        "over. Host only (403 WRH03); the member must be in the room (403 WRM03). 60 per hour "
        "with rooms-moderate (429 WR429)."
    ),
)
ROOMS_LEAVE = Endpoint(
    "rooms-leave",
    RoomsLeaveRequest,
    RoomsLeaveResult,
    summary="Leave a room",
    description=(
        "Leave a room. When the host leaves, the earliest-joined member becomes host and a system "
        "comment says so; the answer names the host now."
    ),
)
ROOMS_DELETE = Endpoint(
    "rooms-delete",
    RoomsDeleteRequest,
    RoomsDeleteResult,
    summary="Delete a room",
    description="Delete a room (host only). Its comments stay, without the room.",
)
ROOMS_LIST_PUBLIC = Endpoint(
    "rooms-list-public",
    RoomsListPublicRequest,
    RoomsListPublicResult,
    summary="List public rooms",
    description=(
        "Public rooms with at least one member, most recently active first, optionally for one "
        "anime. No sign-in needed."
    ),
    errors=(400, 401),
    body_required=False,
)
SYNC_CONTROL = Endpoint(
    "sync-control",
    SyncControlRequest,
    RoomSnapshot,
    summary="Control playback (host)",
    description=(
        "The host's playback control: play, pause, seek, speed. ``current_time`` is the position "
        "(required for seek; for play and pause it defaults to where playback is now); ``at`` is "
        "the server time at which the host was there. Only the host or a co-host may call it "
        "(403 WRH03), at most 2 changes per second per room (429 WR429). Returns the room "
        "with its live position."
    ),
)
SYNC_GET_HOST_TIME = Endpoint(
    "sync-get-host-time",
    SyncGetHostTimeRequest,
    RoomSnapshot,
    summary="Get the host's playback position",
    description=(
        "The room's playback state, where the host is now (``live_position``) and the database "
        "time it is for (``server_time``)."
    ),
    errors=(400, 401, 404),
)
COMMENTS_CREATE = Endpoint(
    "comments-create",
    CommentsCreateRequest,
    Comment,
    summary="Post a comment",
    description=(
        "Post a comment into the (anime, room, episode) thread, under ``parent_id`` or the "
        "thread's anchor. In a room, members only (403 WRM03); at most 1000 characters (413 "
        "WR413); 5 comments per minute (429 WR429)."
    ),
    errors=(400, 401, 403, 404, 409, 413, 429),
    too_large_fields=frozenset({"message"}),
)
COMMENTS_GET_BY_EPISODE = Endpoint(
    "comments-get-by-episode",
    CommentsGetByEpisodeRequest,
    CommentsPage,
    summary="Read an episode thread",
    description=(
        "A page of an episode thread (a room's, or the global one without ``room_id``), oldest to "
        "newest, with the thread's anchor. Page back with ``before`` = ``next_before``."
    ),
    errors=(400, 401, 404),
)
COMMENTS_GET_HISTORY = Endpoint(
    "comments-get-history",
    CommentsGetHistoryRequest,
    CommentsHistory,
    summary="Comment analytics",
    description=(
        "Comment analytics over the last ``hours`` (1 to 720) for a room and/or an anime: "
        "totals, participants, per episode, top commenters, per hour."
    ),
    errors=(400, 401, 404),
)
COMMENTS_REPLAY = Endpoint(
    "comments-replay",
    CommentsReplayRequest,
    ReplayWindow,
    summary="Timed comments of a window of the video",
    description=(
        "The comments stamped in [``start``, ``end``) of an episode's video, from every party "
        "that watched it and that you may see (a private room's only to its members), in video "
        "order, at most 4 per second of video (your room's first). At most 120 s per window; "
        "no sign-in needed for public comments."
    ),
    errors=(400, 401, 404),
)
COMMENTS_REACT = Endpoint(
    "comments-react",
    CommentsReactRequest,
    ReactionResult,
    summary="React to a comment",
    description=(
        "Add (``on``, the default) or remove your reaction (one of 👍 😂 😮 😢 🔥 👏) on a comment "
        "you may see (404 WRC04 otherwise). One per user per emoji: reacting again changes "
        "nothing. 30 per minute (429 WR429). Returns the comment's counts."
    ),
)
COMMENTS_MARK_READ = Endpoint(
    "comments-mark-read",
    CommentsMarkReadRequest,
    ReadState,
    summary="Mark a thread read",
    description=(
        "Move your read point of an episode thread to ``comment_id`` (default: its newest "
        "comment); it never moves back. Returns your read state."
    ),
    errors=(400, 401, 403, 404, 409),
)
COMMENTS_UNREAD = Endpoint(
    "comments-unread",
    CommentsUnreadRequest,
    ReadState,
    summary="New comments since you last read",
    description="Your read state of an episode thread: how many comments are new to you.",
    errors=(400, 401, 403, 404),
)
ROOMS_STATS = Endpoint(
    "rooms-stats",
    RoomsStatsRequest,
    RoomStats,
    summary="Viewer analytics (host)",
    description=(
        "The room's episode session: average and peak concurrent viewers, unique viewers, "
        "comments per minute and the busiest minute, retention, bounce rate, sync quality and "
        "a per-minute timeline. Host only (403 WRH03)."
    ),
    errors=(400, 401, 403, 404),
)
MEMBERS_GET_LIST = Endpoint(
    "members-get-list",
    MembersGetListRequest,
    MembersList,
    summary="List a room's members",
    description=(
        "The room's members in join order with ``is_synced``, ``drift`` (seconds ahead of the "
        "live host position) and ``online``, plus the room's state."
    ),
    errors=(400, 401, 404),
)
MEMBERS_UPDATE_STATUS = Endpoint(
    "members-update-status",
    MembersUpdateStatusRequest,
    MemberStatusResult,
    summary="Member heartbeat",
    description=(
        "The member heartbeat. Records your position (``current_time``) and buffering state, "
        "optionally a new username or avatar; the database computes ``is_synced``. Call it every "
        "few seconds (members silent for 30 s are removed); at most 30 per minute (429 WR429)."
    ),
)

QUEUE_GET = Endpoint(
    "queue-get",
    QueueGetRequest,
    RoomQueue,
    summary="A room's episode queue",
    description=(
        "The room's queue in order, the entry it plays and whether it moves to the next one by "
        "itself. Anyone who sees the room (no sign-in for a public room)."
    ),
    errors=(400, 401, 404),
)
QUEUE_ADD = Endpoint(
    "queue-add",
    QueueAddRequest,
    QueueEntryResult,
    summary="Add an episode to the queue (host or co-host)",
    description=(
        "Append an episode (anime, default the room's; episode number; title; video URL; "
        "duration in seconds) to the room's queue. Host or co-host (403 WRH03); at most 100 "
        "entries (409 WR409); 120 queue edits per hour (429 WR429)."
    ),
    errors=(400, 401, 403, 404, 409, 429),
)
QUEUE_REMOVE = Endpoint(
    "queue-remove",
    QueueRemoveRequest,
    QueueRemoveResult,
    summary="Remove an episode from the queue (host or co-host)",
    description=(
        "Remove an entry; the room keeps playing its video if it was the current one. Host or "
        "co-host (403 WRH03); an entry of another room's queue is 400 WR400."
    ),
)
QUEUE_MOVE = Endpoint(
    "queue-move",
    QueueMoveRequest,
    QueueEntryResult,
    summary="Reorder the queue (host or co-host)",
    description=(
        "Move an entry after ``after_entry_id`` (left out: to the front). One entry changes, "
        "so members receive one change. Host or co-host (403 WRH03)."
    ),
)
QUEUE_GO = Endpoint(
    "queue-go",
    QueueGoRequest,
    QueueGoResult,
    summary="Play the next, previous or any episode of the queue",
    description=(
        "Move the room to the ``next``, ``previous`` or an ``entry`` of its queue (host or "
        "co-host, 403 WRH03; no such episode: 409 WR409): the room takes the entry's anime, "
        "episode and video, paused at 0, and every member's player follows. ``ended`` with "
        "``entry_id``: any member reports that the current entry ended; with auto-advance on "
        "and the room really at its end, the room moves to the next entry (``advanced``)."
    ),
    errors=(400, 401, 403, 404, 409, 429),
)
QUEUE_AUTO_ADVANCE = Endpoint(
    "queue-auto-advance",
    QueueAutoAdvanceRequest,
    RoomSnapshot,
    summary="Turn auto-advance on or off (host or co-host)",
    description=(
        "With auto-advance on, the room moves to the next entry of its queue when the current "
        "one ends (the SDK's sessions report the end). Host or co-host (403 WRH03)."
    ),
)

ROOMS_SET_SKIPS = Endpoint(
    "rooms-set-skips",
    RoomsSetSkipsRequest,
    RoomSnapshot,
    summary="Mark the opening and ending (host or co-host)",
    description=(
        "Mark where the opening and the ending of the episode the room plays start and end "
        "(seconds; a pair left out clears it). The current queue entry keeps them for next time. "
        "Host or co-host (403 WRH03); 120 queue edits per hour (429 WR429)."
    ),
)
ROOMS_SKIP = Endpoint(
    "rooms-skip",
    RoomsSkipRequest,
    RoomsSkipResult,
    summary="Skip the opening or ending for everyone (host or co-host)",
    description=(
        "Move the whole room to the end of the opening or ending (``segment``; left out: the one "
        "playing now). While playing, the room starts from there a moment ahead (0.6 s), so "
        "every player lands on the same frame. Host or co-host (403 WRH03); not in a segment, or "
        "it is not marked: 409 WR409; a playback change (2 per second, 429 WR429)."
    ),
    errors=(400, 401, 403, 404, 409, 429),
)
READY_CHECK_START = Endpoint(
    "ready-check-start",
    ReadyCheckStartRequest,
    ReadyCheckStartResult,
    summary="Ask the room who is ready (host or co-host)",
    description=(
        "Open a ready check, moving the room to the ``next`` episode of its queue or an "
        "``entry`` first (paused at 0) if asked. The room starts by itself when every member is "
        "ready, or after ``timeout`` seconds (default 30) with whoever is. Host or co-host (403 "
        "WRH03); a check already open, or no such episode: 409 WR409; 30 checks per hour."
    ),
    errors=(400, 401, 403, 404, 409, 429),
)
READY_CHECK_RESPOND = Endpoint(
    "ready-check-respond",
    ReadyCheckRespondRequest,
    ReadyCheck,
    summary="Answer the ready check (a member)",
    description=(
        "Say you are ready (or not yet). The last member to be ready starts the room. An answer "
        "within a second of the check's last update is held back (``held`` says for how long): "
        "call ready-check-settle after it, so the room sees it. A check that is over: 409 WR409; "
        "not a member: 403 WRM03; 30 answers a minute."
    ),
    errors=(400, 401, 403, 404, 409, 429),
)
READY_CHECK_SETTLE = Endpoint(
    "ready-check-settle",
    ReadyCheckSettleRequest,
    ReadyCheck,
    summary="Bring the ready check up to date, or cancel it",
    description=(
        "Any member: publish answers held back, and start the room once everyone is ready or the "
        "deadline has passed (the first call does; later ones change nothing). With ``cancel``, "
        "the host or a co-host ends the check without starting the room (403 WRH03)."
    ),
    errors=(400, 401, 403, 404, 409, 429),
)

ENDPOINTS: dict[str, Endpoint[Any, Any]] = {
    ep.name: ep
    for ep in (
        ROOMS_CREATE,
        ROOMS_JOIN,
        ROOMS_LEAVE,
        ROOMS_DELETE,
        ROOMS_ROTATE_ACCESS_KEY,
        ROOMS_CREATE_INVITE,
        ROOMS_MODERATE,
        MEMBERS_SET_COHOST,
        ROOMS_LIST_PUBLIC,
        SYNC_CONTROL,
        SYNC_GET_HOST_TIME,
        COMMENTS_CREATE,
        COMMENTS_GET_BY_EPISODE,
        COMMENTS_GET_HISTORY,
        COMMENTS_REPLAY,
        COMMENTS_REACT,
        COMMENTS_MARK_READ,
        COMMENTS_UNREAD,
        ROOMS_STATS,
        MEMBERS_GET_LIST,
        MEMBERS_UPDATE_STATUS,
        QUEUE_GET,
        QUEUE_ADD,
        QUEUE_REMOVE,
        QUEUE_MOVE,
        QUEUE_GO,
        QUEUE_AUTO_ADVANCE,
        ROOMS_SET_SKIPS,
        ROOMS_SKIP,
        READY_CHECK_START,
        READY_CHECK_RESPOND,
        READY_CHECK_SETTLE,
    )
}
"""Every function by name."""
