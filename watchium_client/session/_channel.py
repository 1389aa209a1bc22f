"""The room's Realtime channel ``room:{id}``, kept subscribed.

:class:`RoomChannel` subscribes through realtime-py (``client.supabase.channel``, so one socket per
client), hands the postgres_changes rows of ``rooms``, ``room_members``, ``comments`` and
``comment_reaction_counts`` to the session, keeps the channel's presence, and follows the
subscription's status: ``SUBSCRIBED`` asks for a refetch (Realtime replays nothing), a drop is a
connection loss. Its watchdog repairs what realtime-py does not: it stops reconnecting after a few
failed attempts, and a channel the server closed is never joined again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from realtime import (
    AsyncRealtimeChannel,
    RealtimeChannelOptions,
    RealtimePostgresChangesListenEvent,
    RealtimeSubscribeStates,
)
from realtime.types import PostgresChangesPayload

from watchium_client._api import WatchiumClient
from watchium_client._errors import ConnectionFailed
from watchium_client.session._context import RowSink, SessionContext
from watchium_client.session._events import ReactionsChanged
from watchium_client.session._mirror import RoomMirror, member_from_row
from watchium_client.session._resync import Resync
from watchium_wire import Comment, MemberPresence, QueueEntry, ReadyCheck, RealtimeHints

__all__ = ["RoomChannel"]

logger = logging.getLogger(__name__)

_WATCHDOG_INTERVAL = 1.0
# A channel realtime-py dropped from its table is joined again after this long...
_RESUBSCRIBE_AFTER = 3.0
# ...and a socket it stopped reconnecting is reconnected after this long, or as soon as a
# function answers again (realtime-py's backoff grows to 8 s and it gives up after 5 attempts;
# when the functions answer, the server is back: no reason to wait for it).
_RECONNECT_AFTER = 20.0
_ANSWER_MARGIN = 1.0


class RoomChannel:
    """One session's subscription to its room's channel.

    Args:
        client: the session's client (its supabase-py Realtime socket).
        ctx: the session's shared facts (status is ignored once it is closing).
        mirror: the session's picture of the room (to tell which member a deletion removed).
        sink: where rows go.
        resync: asked for a refetch on every ``SUBSCRIBED``, told about losses.
        on_presence: called with everyone tracked, by user id, at each presence sync.
    """

    def __init__(
        self,
        client: WatchiumClient,
        ctx: SessionContext,
        mirror: RoomMirror,
        sink: RowSink,
        resync: Resync,
        *,
        on_presence: Callable[[dict[str, MemberPresence]], None],
    ) -> None:
        self._client = client
        self._ctx = ctx
        self._mirror = mirror
        self._sink = sink
        self._resync = resync
        self._on_presence = on_presence
        self._hints: RealtimeHints | None = None
        self._channel: AsyncRealtimeChannel | None = None
        self._unsubscribed_at: float | None = None
        self._last_status_error: str | None = None
        self.subscribed = False
        self.subscriptions = 0
        """How many times the channel was subscribed (presence is tracked again after each)."""
        self.presence: dict[str, MemberPresence] = {}
        """Everyone tracked on the channel, by user id."""
        self._parsed: dict[str, tuple[object, MemberPresence]] = {}

    @property
    def joined(self) -> AsyncRealtimeChannel | None:
        """The channel, while subscribed (presence is tracked on it)."""
        return self._channel if self.subscribed else None

    async def subscribe(self, hints: RealtimeHints) -> None:
        """Subscribes as ``hints`` (from the join's answer) say and waits for the answer.

        Raises:
            ConnectionFailed: the subscription was refused or did not complete.
        """
        self._hints = hints
        await self._subscribe(hints)

    async def close(self) -> None:
        """Untracks and removes the channel (errors ignored: the socket may be gone)."""
        channel, self._channel = self._channel, None
        self.subscribed = False
        if channel is None:
            return
        if channel.is_joined:
            with contextlib.suppress(Exception):
                await channel.untrack()
        with contextlib.suppress(Exception):
            await self._client.supabase.remove_channel(channel)

    async def watchdog(self) -> None:
        """Subscribes again, or reconnects the socket, when realtime-py will not; runs until
        the room is gone or the task is cancelled."""
        realtime = self._client.supabase.realtime
        while not self._ctx.gone:
            await asyncio.sleep(_WATCHDOG_INTERVAL)
            if self.subscribed or self._unsubscribed_at is None or self._hints is None:
                continue
            down_for = self._ctx.clock.local_now() - self._unsubscribed_at
            channel = self._channel
            try:
                if channel is None or realtime.channels.get(channel.topic) is not channel:
                    if down_for > _RESUBSCRIBE_AFTER:
                        logger.info(
                            "room %s: the channel was closed: subscribing again", self._ctx.room_id
                        )
                        await self._subscribe(self._hints)
                elif not realtime.is_connected and (
                    down_for > _RECONNECT_AFTER
                    or self._ctx.answered_at > self._unsubscribed_at + _ANSWER_MARGIN
                ):
                    logger.info("room %s: connecting to Realtime again", self._ctx.room_id)
                    await realtime.connect()
            except Exception as exc:
                logger.debug("room %s: Realtime still down: %s", self._ctx.room_id, exc)

    async def _subscribe(self, hints: RealtimeHints) -> None:
        supabase = self._client.supabase
        session = await supabase.auth.get_session()
        if session is not None:
            # supabase-py hands a new token to Realtime in a background task; a channel joined
            # before it ran would join as anon (and a private room would refuse it).
            await supabase.realtime.set_auth(session.access_token)
        params: RealtimeChannelOptions = {
            "config": {
                "broadcast": {"ack": False, "self": False},
                "presence": {"key": hints.presence_key, "enabled": True},
                "private": hints.private,
            }
        }
        channel = supabase.channel(hints.channel, params)
        handlers: dict[str, Callable[[PostgresChangesPayload], None]] = {
            "rooms": self._on_room_row,
            "room_members": self._on_member_row,
            "comments": self._on_comment_row,
            "comment_reaction_counts": self._on_reaction_counts_row,
            "room_queue": self._on_queue_row,
            "ready_checks": self._on_ready_check_row,
        }
        for binding in hints.postgres_changes:
            handler = handlers.get(binding.table)
            if handler is None:
                logger.debug("no handler for %s changes: not subscribed", binding.table)
                continue
            channel.on_postgres_changes(
                RealtimePostgresChangesListenEvent(binding.event),
                _guarded(handler),
                table=binding.table,
                schema=binding.schema_,
                filter=binding.filter,
            )
        channel.on_presence_sync(_guarded_sync(self._on_presence_sync))
        self._channel = channel

        def on_status(status: RealtimeSubscribeStates, error: Exception | None) -> None:
            self._on_status(channel, status, error)

        try:
            await asyncio.wait_for(
                channel.subscribe(on_status), self._ctx.timings.subscribe_timeout
            )
        except Exception as exc:
            raise ConnectionFailed(f"Realtime: cannot subscribe to {hints.channel}: {exc}") from exc
        if not self.subscribed:
            raise ConnectionFailed(
                f"Realtime: cannot subscribe to {hints.channel}: "
                f"{self._last_status_error or 'no answer'}"
            )

    def _on_status(
        self,
        channel: AsyncRealtimeChannel,
        status: RealtimeSubscribeStates,
        error: Exception | None,
    ) -> None:
        if channel is not self._channel or self._ctx.closing:
            return
        if status == RealtimeSubscribeStates.SUBSCRIBED:
            self.subscribed = True
            self.subscriptions += 1
            self._unsubscribed_at = None
            self._last_status_error = None
            # Changes committed while unsubscribed, or before the subscription was live, are
            # not replayed: fetch the state again on every SUBSCRIBED.
            self._resync.request("subscribed")
            return
        was = self.subscribed
        self.subscribed = False
        if self._unsubscribed_at is None:
            self._unsubscribed_at = self._ctx.clock.local_now()
        self._last_status_error = f"{status.value}" + (f": {error}" if error else "")
        if was:
            self._resync.mark_lost(f"Realtime {self._last_status_error}")

    def _on_room_row(self, payload: PostgresChangesPayload) -> None:
        record = payload["data"].get("record")
        if record:
            self._sink.room(record, "realtime", None)

    def _on_member_row(self, payload: PostgresChangesPayload) -> None:
        data = payload["data"]
        if data["type"] == RealtimePostgresChangesListenEvent.Delete:
            # DELETE events carry only the key under RLS, and reach every subscriber of the
            # table (they cannot be filtered): known rows only.
            row_id = str((data.get("old_record") or {}).get("id"))
            self._sink.events(self._mirror.member_row_deleted(row_id, "realtime"))
            return
        record = data.get("record")
        if record:
            self._sink.member(member_from_row(record), "realtime")

    def _on_comment_row(self, payload: PostgresChangesPayload) -> None:
        record = payload["data"].get("record")
        if record:
            self._sink.events(
                self._mirror.add_comment(Comment.model_validate(record), missed=False)
            )

    def _on_queue_row(self, payload: PostgresChangesPayload) -> None:
        data = payload["data"]
        if data["type"] == RealtimePostgresChangesListenEvent.Delete:
            entry_id = str((data.get("old_record") or {}).get("id"))
            self._sink.events(self._mirror.queue_row_deleted(entry_id))
            return
        record = data.get("record")
        if record:
            entry = QueueEntry.model_validate(record)
            self._sink.events(self._mirror.queue_row(entry, now=self._ctx.clock.local_now()))

    def _on_ready_check_row(self, payload: PostgresChangesPayload) -> None:
        # A DELETE only comes with the room's: RoomDeleted says it.
        record = payload["data"].get("record")
        if record:
            check = ReadyCheck.model_validate(record)
            self._sink.events(self._mirror.ready_check_row(check, "realtime"))

    def _on_reaction_counts_row(self, payload: PostgresChangesPayload) -> None:
        record = payload["data"].get("record")
        if record:
            counts = {str(k): int(v) for k, v in (record.get("counts") or {}).items()}
            self._sink.events(
                [ReactionsChanged(str(record["comment_id"]), counts, int(record["total"]))]
            )

    def _on_presence_sync(self) -> None:
        channel = self._channel
        if channel is None:
            return
        # A sync follows every diff: only the presences that changed are parsed again (each
        # has a new ref), not the whole room's each time.
        presence: dict[str, MemberPresence] = {}
        parsed: dict[str, tuple[object, MemberPresence]] = {}
        for key, metas in channel.presence_state().items():
            if not metas:
                continue
            meta = dict(metas[-1])
            ref = meta.get("presence_ref")
            known = self._parsed.get(key)
            if known is not None and ref is not None and known[0] == ref:
                parsed[key] = known
                presence[key] = known[1]
                continue
            try:
                shown = MemberPresence.model_validate(meta)
            except ValueError:
                logger.debug("ignoring a presence of %s that is not a member's", key)
                continue
            if shown.user_id != key:
                # A presence is keyed by its user (the server keys it by the token's user):
                # one that speaks for someone else is not taken.
                logger.debug(
                    "ignoring a presence under %s that claims to be %s", key, shown.user_id
                )
                continue
            presence[key] = shown
            parsed[key] = (ref, shown)
        self._parsed = parsed
        self.presence = presence
        self._on_presence(dict(presence))


def _guarded(
    handler: Callable[[PostgresChangesPayload], None],
) -> Callable[[PostgresChangesPayload], None]:
    # realtime-py calls handlers inside its receive loop: an exception would end the loop.
    def guarded(payload: PostgresChangesPayload) -> None:
        try:
            handler(payload)
        except Exception:
            logger.exception("handling a Realtime change failed")

    return guarded


def _guarded_sync(handler: Callable[[], None]) -> Callable[[], None]:
    def guarded() -> None:
        try:
            handler()
        except Exception:
            logger.exception("handling a presence change failed")

    return guarded
