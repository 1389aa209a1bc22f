"""Channel membership: who may join a channel and stay in it.

At join: the join payload (validated permissively, as upstream does), the token (the join's
``access_token``, else the socket's API key), on a private channel realtime.messages' policies
for the topic, and the postgres_changes bindings against the published tables. At an
``access_token`` push: the new token, and on a private channel the policies again; a channel
whose read permission was revoked is shut down. Refusals carry upstream's reasons.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from ._authorizer import Authorizer, AuthorizerError, ChannelPolicies
from ._catalog import Catalog, CatalogError
from ._limits import Limits, TokenBucket
from ._member import ChannelMember, ChannelOptions, ChannelShutdown
from ._protocol import Inbound
from ._socket import Socket
from ._subscriptions import BindingError, Subscription, binding_id, subscription_for
from ._tokens import ChannelAuth, Credentials, TokenProblem
from ._wire import JoinPayload, ValidationError

__all__ = ["JoinRefused", "Admission", "Membership", "TOPIC_PREFIX"]

logger = logging.getLogger(__name__)

TOPIC_PREFIX = "realtime:"
_DB_UNAVAILABLE = "UnableToConnectToProject: Realtime was unable to connect to the project database"


class JoinRefused(Exception):
    """A join was refused; ``reason`` goes in the error reply."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Admission:
    """A join that may go ahead.

    ``bindings`` are the join's postgres_changes bindings as the reply echoes them (with ids);
    ``binding_error`` is upstream's message when they cannot be subscribed (the join still
    succeeds, as upstream's does, and the error follows as a ``system`` message).
    """

    member: ChannelMember
    subscriptions: list[Subscription]
    bindings: list[dict[str, Any]]
    binding_error: str | None


class Membership:
    """Admits members to channels and renews their credentials."""

    def __init__(
        self, *, auth: ChannelAuth, authorizer: Authorizer, catalog: Catalog, limits: Limits
    ) -> None:
        self._auth = auth
        self._authorizer = authorizer
        self._catalog = catalog
        self._limits = limits

    @staticmethod
    def subtopic(topic: str) -> str:
        """The channel name of a joined ``topic`` (``realtime:<name>``).

        Raises:
            JoinRefused: when ``topic`` is not a channel topic or names no channel.
        """
        if not topic.startswith(TOPIC_PREFIX):
            raise JoinRefused("unmatched topic")
        subtopic = topic[len(TOPIC_PREFIX) :]
        if not subtopic:
            raise JoinRefused("TopicNameRequired: You must provide a topic name")
        return subtopic

    async def admit(self, socket: Socket, msg: Inbound, subtopic: str, api_token: str) -> Admission:
        """Decide on the ``phx_join`` ``msg`` of a client connected with ``api_token``.

        Raises:
            JoinRefused: with upstream's reason.
        """
        if not isinstance(msg.payload, dict):
            raise JoinRefused("InvalidJoinPayload: the payload is not a map")
        try:
            join = JoinPayload.model_validate(msg.payload)
        except ValidationError as exc:
            reason = f"InvalidJoinPayload: {exc.errors(include_url=False)[0]['msg']}"
            raise JoinRefused(reason) from None

        token = join.access_token or join.user_token
        if not token or token.startswith("sb_"):
            token = api_token
        try:
            credentials = await self._auth.credentials(token)
        except TokenProblem as problem:
            raise JoinRefused(problem.reason) from None

        config = join.config
        if not config.private and not self._limits.allow_public_channels:
            raise JoinRefused("PrivateOnly: This project only allows private channels")
        presence = config.presence
        # Presence is keyed by the user the token names, whatever key the client asks for: no
        # one tracks under another user's id or under made-up keys (without a user, no track).
        key = credentials.sub
        options = ChannelOptions(
            topic=msg.topic,
            subtopic=subtopic,
            join_ref=msg.join_ref or msg.ref,
            private=config.private,
            self_broadcast=bool(config.broadcast and config.broadcast.self_),
            ack=bool(config.broadcast and config.broadcast.ack),
            presence_key=key or "",
        )
        policies: ChannelPolicies | None = None
        if options.private:
            try:
                policies = await self._policies(credentials, subtopic)
            except AuthorizerError as exc:
                logger.warning("private join of %s failed: %s", subtopic, exc)
                raise JoinRefused(_DB_UNAVAILABLE) from None
            if not policies.can_join:
                raise JoinRefused(
                    "Unauthorized: You do not have permissions to read from this Channel topic: "
                    + subtopic
                )
        member = ChannelMember(
            socket,
            options,
            credentials,
            policies=policies,
            presence_enabled=bool(presence and presence.enabled),
            presence_limit=TokenBucket(
                self._limits.presence_per_second, self._limits.presence_burst
            ),
        )

        bindings = config.postgres_changes or []
        subscriptions: list[Subscription] = []
        binding_error: str | None = None
        if bindings:
            try:
                subscriptions = await self._subscriptions(member, bindings)
            except BindingError as exc:
                binding_error = str(exc)
            except CatalogError as exc:
                logger.warning("join of %s failed: %s", subtopic, exc)
                raise JoinRefused(_DB_UNAVAILABLE) from None
        echoed = [dict(b, id=binding_id(b)) for b in bindings]
        return Admission(member, subscriptions, echoed, binding_error)

    async def renew(self, member: ChannelMember, msg: Inbound) -> bool:
        """An ``access_token`` push: act as the new token from now on. False when nothing
        changed (the same token, an API key or no token at all).

        Raises:
            ChannelShutdown: when the token is refused, its policies cannot be evaluated, or
                they no longer allow reading the channel.
        """
        payload = msg.payload if isinstance(msg.payload, dict) else {}
        token = payload.get("access_token")
        if not isinstance(token, str) or token.startswith("sb_"):
            return False
        if token == member.credentials.token:
            return False
        try:
            credentials = await self._auth.credentials(token)
        except TokenProblem as problem:
            raise ChannelShutdown(problem.message) from None
        if credentials.sub != member.credentials.sub:
            # Presence and membership belong to the user the channel was joined as.
            raise ChannelShutdown("The access token belongs to another user: join again")
        previous = member.policies
        if not member.private:
            member.renew(credentials, None)
            return True
        # The new claims are in force before the policies are known, as upstream's are.
        member.renew(credentials, previous)
        try:
            policies = await self._policies(credentials, member.subtopic)
        except AuthorizerError:
            raise ChannelShutdown(
                "Realtime was unable to connect to the project database"
            ) from None
        member.renew(credentials, policies)
        revoked = previous is not None and (
            (previous.broadcast_read and not policies.broadcast_read)
            or (previous.presence_read and not policies.presence_read)
        )
        if revoked:
            raise ChannelShutdown(
                "You no longer have permission to read from this Channel topic: " + member.subtopic
            )
        return True

    async def _policies(self, credentials: Credentials, subtopic: str) -> ChannelPolicies:
        return await self._authorizer.channel_policies(
            subtopic, credentials.role, credentials.claims_json, credentials.sub
        )

    async def _subscriptions(
        self, member: ChannelMember, bindings: list[dict[str, Any]]
    ) -> list[Subscription]:
        try:
            tables = await self._catalog.published_tables()
        except CatalogError:
            tables = self._catalog.published_tables_cached()
            if not tables:
                raise
        try:
            return [subscription_for(member, binding, tables) for binding in bindings]
        except BindingError:
            # The list is cached for a second: a table published since may not be in it yet.
            with contextlib.suppress(CatalogError):
                tables = await self._catalog.published_tables(refresh=True)
            return [subscription_for(member, binding, tables) for binding in bindings]
