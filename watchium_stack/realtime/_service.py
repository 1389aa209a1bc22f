"""RealtimeService: the local Supabase Realtime server, wired together and started and stopped
as one."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from watchium_functions.apikeys import ApiKeys
from watchium_functions.jwks import JwksSource, TokenVerifier
from watchium_functions.tokens import API_ROLES

from ._authorizer import Authorizer
from ._broadcast_handler import BroadcastHandler
from ._catalog import Catalog
from ._change_reader import ChangeReader, Transaction
from ._channels import Connections, Handlers
from ._limits import Limits
from ._membership import Membership
from ._presence_handler import PresenceHandler
from ._router import ChangeRouter
from ._row_checks import RowChecks
from ._server import RealtimeApp
from ._socket import Socket
from ._tokens import ChannelAuth
from ._topics import Topics
from ._traffic import Traffic

__all__ = ["RealtimeService", "Revocation", "DEFAULT_SLOT", "PUBLICATION"]

logger = logging.getLogger(__name__)

DEFAULT_SLOT = "watchium_realtime"
PUBLICATION = "supabase_realtime"


@dataclass(frozen=True, slots=True)
class Revocation:
    """A membership table: when one of its rows is deleted, the user it names
    (``user_column``) loses the channel ``topic`` (formatted with the row's values) at once,
    before any token refresh: its channels there are shut down (a ``system`` error, then
    ``phx_close``) and it has to join again, which the channel's policies then refuse."""

    schema: str
    table: str
    topic: str
    user_column: str


WATCHIUM_REVOCATIONS = (Revocation("public", "room_members", "room:{room_id}", "user_id"),)
"""A member who leaves or is removed loses the room's channel."""
WATCHIUM_DELETE_SCOPES = {
    ("public", "room_members"): ("public", "rooms", "room_id"),
    ("public", "room_queue"): ("public", "rooms", "room_id"),
}
"""A member's deletion, and a queue entry's, is shown to whoever may see the room (see
:class:`ChangeRouter`)."""


class RealtimeService:
    """A Supabase-Realtime-protocol server for the local stack.

    Args:
        db_url: superuser URL (logical replication, slot management, catalog reads).
        authorizer_url: URL of the role that evaluates RLS per subscriber (``authenticator``
            locally: it may ``set role`` to anon, authenticated and service_role, and the local
            bootstrap lets it call ``_realtime_local.visible``).
        jwt_secret: the project's legacy secret (its legacy API keys and HS256 user tokens), if
            it still trusts one.
        api_keys: the publishable and secret keys accepted at the handshake and by
            ``/api/broadcast`` (legacy JWT keys are recognised by ``jwt_secret``).
        jwks: the project's published signing keys (users' tokens), if any.
        slot_name: the replication slot this service owns (created at start, dropped at stop).
        limits: per-socket, per-channel and per-address bounds, and whether public channels
            may be joined.
        authorizer_pool_size: connections for RLS checks (changes are checked concurrently).
        revocations: membership tables whose deleted rows end a user's channel at once.
        delete_scopes: which row a deleted row belonged to, for showing DELETEs under RLS.

    ``app`` is the ASGI application; ``start()`` and ``stop()`` belong in the host's lifespan.
    """

    def __init__(
        self,
        *,
        db_url: str,
        authorizer_url: str,
        jwt_secret: str | None = None,
        api_keys: Iterable[str] = (),
        jwks: JwksSource | None = None,
        slot_name: str = DEFAULT_SLOT,
        limits: Limits | None = None,
        authorizer_pool_size: int = 4,
        revocations: Iterable[Revocation] = WATCHIUM_REVOCATIONS,
        delete_scopes: Mapping[tuple[str, str], tuple[str, str, str]] = WATCHIUM_DELETE_SCOPES,
    ) -> None:
        self.limits = limits or Limits()
        self._revocations = {(r.schema, r.table): r for r in revocations}
        auth = ChannelAuth(ApiKeys.of(api_keys), TokenVerifier(jwks, jwt_secret))
        self.catalog = Catalog(db_url, publication=PUBLICATION, roles=sorted(API_ROLES))
        self.authorizer = Authorizer(url=authorizer_url, pool_size=authorizer_pool_size)
        self.reader = ChangeReader(
            url=db_url,
            slot=slot_name,
            catalog=self.catalog,
            on_transaction=self._on_transaction,
            on_gap=self._on_gap,
        )
        self.checks = RowChecks(self.authorizer, on_gap=self._on_gap)
        self.router = ChangeRouter(
            catalog=self.catalog,
            checks=self.checks,
            confirm=self.reader.confirm,
            delete_scopes=delete_scopes,
        )
        self.topics = Topics()
        self.traffic = Traffic()
        broadcasts = BroadcastHandler(self.topics, self.authorizer, self.limits)
        self.connections = Connections(
            Handlers(
                membership=Membership(
                    auth=auth,
                    authorizer=self.authorizer,
                    catalog=self.catalog,
                    limits=self.limits,
                ),
                topics=self.topics,
                broadcasts=broadcasts,
                presence=PresenceHandler(self.topics, self.limits),
                router=self.router,
                limits=self.limits,
            )
        )
        self.app = RealtimeApp(
            connections=self.connections,
            broadcasts=broadcasts,
            auth=auth,
            limits=self.limits,
            ready=lambda: self._started,
            startup=self.start,
            shutdown=self.stop,
            traffic=self.traffic,
            stats=self.stats,
        )
        self._started = False
        self._lock = asyncio.Lock()
        self.revoked_channels = 0
        """Channels shut down because their user's membership was deleted."""

    @property
    def ready(self) -> bool:
        return self._started

    @property
    def sockets(self) -> list[Socket]:
        """The sockets connected now."""
        return self.connections.sockets()

    async def start(self) -> None:
        """Start streaming changes (idempotent).

        Raises:
            CatalogError: when the database cannot be reached.
            AuthorizerError: when the authorizer role cannot connect, or cannot call the check
                function the local bootstrap creates.
        """
        async with self._lock:
            if self._started:
                return
            await self.authorizer.open()
            try:
                await self.catalog.load_roles()
                self.router.start()
                await self.reader.start()
            except BaseException:
                await self.router.stop()
                await self.authorizer.close()
                raise
            self._started = True
            logger.info("realtime service started (slot %s)", self.reader.slot)

    async def stop(self) -> None:
        """Close every socket, stop streaming and drop the slot (idempotent)."""
        async with self._lock:
            if not self._started:
                return
            self._started = False
            self.connections.shutdown(1001, "server shutting down")
            await self.reader.stop()
            await self.router.stop()
            await self.authorizer.close()
            await self.catalog.close()
            logger.info("realtime service stopped")

    async def wait_streaming(self, timeout: float = 10.0) -> None:
        """Wait until the change stream is connected (tests and benchmarks).

        Raises:
            TimeoutError: when it does not connect in time.
        """
        async with asyncio.timeout(timeout):
            await self.reader.wait_connected()

    def stats(self) -> dict[str, Any]:
        """Counters for diagnostics, and the traffic by kind (``frames_in``, ``frames_out``,
        ``bytes_out``: see ``_traffic``)."""
        return {
            "sockets": len(self.connections),
            **self.topics.counts(),
            "delivered_changes": self.router.delivered_changes,
            "rls_checks": self.checks.count,
            "revoked_channels": self.revoked_channels,
            "stream_connected": self.reader.is_connected,
            "stream_reconnects": self.reader.reconnects,
            "slot_invalidations": self.reader.invalidations,
            **self.traffic.snapshot(),
        }

    async def _on_transaction(self, txn: Transaction) -> None:
        if self._revocations:
            self._revoke(txn)
        await self.router.submit(txn)

    def _revoke(self, txn: Transaction) -> None:
        """Memberships deleted in ``txn``: their users' channels end now."""
        for change in txn.changes:
            if change.kind != "DELETE":
                continue
            info = change.relation
            rule = self._revocations.get((info.schema, info.table))
            if rule is None:
                continue
            old = self.catalog.render(info, change.old)
            user = old.get(rule.user_column)
            try:
                subtopic = rule.topic.format(**old)
            except (KeyError, IndexError, ValueError):
                continue
            if user is None:
                continue
            closed = self.connections.revoke(
                subtopic,
                str(user),
                "You no longer have permission to read from this Channel topic: " + subtopic,
            )
            self.revoked_channels += closed

    def _on_gap(self, reason: str) -> None:
        # Changes may have been lost: make every postgres_changes channel rejoin (phx_error), so
        # its client refetches the state it shows.
        self.connections.fail_changes(reason)
