"""realtime_cost's arithmetic: the Realtime server's counters turned into what hosted Supabase
would count and bill, the targets, and how many rooms a project carries on each plan.

What hosted Supabase counts as a message (its "Manage Realtime Messages usage" page): each database
change once per client that listens to it, each broadcast once sent plus once per receiver, and
presence. Here a *message* is every postgres_changes, presence_diff, presence_state and broadcast
frame the server writes to a channel, plus every broadcast a client sends; Phoenix heartbeat
replies and the rest of the protocol (join replies, system messages) are counted apart. The
presence quota counts presence events: here, the track and untrack pushes clients send.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ACTIONS",
    "PLANS",
    "Plan",
    "Usage",
    "budget_rows",
    "check",
    "delta",
    "usage",
]

ACTIONS = ("pause", "play", "seek", "speed", "join", "leave", "ready check")
HOST_ACTIONS = ("pause", "play", "seek", "speed")

TARGET_STEADY_PER_MEMBER_S = 0.2
TARGET_ACTION_PER_MEMBER = 2.0
TARGET_READY_CHECK_PER_MEMBER = 8.0
"""A ready check every member answers: its opening, the pause, a few rewrites while it fills
(at most one a second, whatever the room's size), its end and the start; not one per answer."""
TARGET_PRESENCE_PER_MEMBER_MIN = 1.0

_MESSAGE_OUT = ("postgres_changes/", "presence_diff", "presence_state", "broadcast")
_PRESENCE_OUT = ("presence_diff", "presence_state")
_PRESENCE_IN = ("presence/track", "presence/untrack")
_HEARTBEAT_REPLY = "phx_reply/heartbeat"


def delta(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """The frames counted between two ``/api/stats`` answers, by direction and kind."""
    out: dict[str, dict[str, int]] = {}
    for direction in ("frames_in", "frames_out"):
        a, b = before.get(direction, {}), after.get(direction, {})
        out[direction] = {k: b[k] - a.get(k, 0) for k in b if b[k] - a.get(k, 0)}
    return out


@dataclass(frozen=True)
class Usage:
    """What one window cost, in hosted Supabase's terms."""

    messages: int
    """Billed messages: deliveries of changes, presence and broadcasts, and broadcasts sent."""
    changes: dict[str, int]
    """postgres_changes deliveries by table/type."""
    presence_out: int
    presence_in: int
    """Presence events (track and untrack pushes): what the presence quota counts."""
    heartbeat_replies: int
    other_out: int
    """Frames that are neither messages nor heartbeat replies (join replies, system...)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "changes": self.changes,
            "presence_out": self.presence_out,
            "presence_in": self.presence_in,
            "heartbeat_replies": self.heartbeat_replies,
            "other_out": self.other_out,
        }


def usage(counts: Mapping[str, Mapping[str, int]]) -> Usage:
    """Classifies a :func:`delta`."""
    frames_out, frames_in = counts.get("frames_out", {}), counts.get("frames_in", {})
    messages = sum(n for k, n in frames_out.items() if k.startswith(_MESSAGE_OUT))
    messages += frames_in.get("broadcast", 0)
    changes = {
        k.removeprefix("postgres_changes/"): n
        for k, n in sorted(frames_out.items())
        if k.startswith("postgres_changes/")
    }
    heartbeat = frames_out.get(_HEARTBEAT_REPLY, 0)
    other = sum(
        n for k, n in frames_out.items() if not k.startswith(_MESSAGE_OUT) and k != _HEARTBEAT_REPLY
    )
    return Usage(
        messages=messages,
        changes=changes,
        presence_out=sum(frames_out.get(k, 0) for k in _PRESENCE_OUT),
        presence_in=sum(frames_in.get(k, 0) for k in _PRESENCE_IN),
        heartbeat_replies=heartbeat,
        other_out=other,
    )


def check(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """The targets each room size missed (empty: all met)."""
    misses: list[str] = []
    for room in results:
        n = room["members"]
        steady = room["steady"]
        if steady["messages_per_member_s"] > TARGET_STEADY_PER_MEMBER_S:
            misses.append(
                f"{n} members: {steady['messages_per_member_s']:.3f} messages per member per s "
                f"in steady playback (target <= {TARGET_STEADY_PER_MEMBER_S})"
            )
        for what in ("presence_out_per_member_min", "presence_in_per_member_min"):
            if steady[what] > TARGET_PRESENCE_PER_MEMBER_MIN:
                misses.append(
                    f"{n} members: {what} {steady[what]:.2f} "
                    f"(target <= {TARGET_PRESENCE_PER_MEMBER_MIN})"
                )
        for action in HOST_ACTIONS:
            cost = room["actions"][action]["net_per_member"]
            if cost > TARGET_ACTION_PER_MEMBER:
                misses.append(
                    f"{n} members: {action} cost {cost:.2f} messages per member "
                    f"(target <= {TARGET_ACTION_PER_MEMBER})"
                )
        ready = room["actions"]["ready check"]["net_per_member"]
        if ready > TARGET_READY_CHECK_PER_MEMBER:
            misses.append(
                f"{n} members: a ready check cost {ready:.2f} messages per member "
                f"(target <= {TARGET_READY_CHECK_PER_MEMBER})"
            )
        # A cheap action that did not reach everyone is no saving: each must reach every member.
        for action, change in _EXPECTED_CHANGE.items():
            got = room["actions"][action]["changes"].get(change, 0)
            if got < n:
                misses.append(f"{n} members: {action} delivered {change} to {got} of {n}")
    return misses


_EXPECTED_CHANGE = {
    **{action: "rooms/UPDATE" for action in HOST_ACTIONS},
    "join": "room_members/INSERT",
    "leave": "room_members/DELETE",
    "ready check": "ready_checks/UPDATE",
}


# ---------------------------------------------------------------------- the hosted budget


@dataclass(frozen=True)
class Plan:
    """A hosted plan's Realtime quotas (per project; messages per month per organisation)."""

    name: str
    connections: int
    messages_per_s: int
    presence_per_s: int
    monthly_messages: int | None
    """Messages included per month (None: as Pro's, the same quota)."""


PLANS = (
    Plan("Free", 200, 100, 20, 2_000_000),
    Plan("Pro", 500, 500, 50, 5_000_000),
    Plan("Pro, no spend cap / Team", 10_000, 2_500, 1_000, 5_000_000),
)
PRICE_PER_MILLION = 2.50

# The activity assumed on top of steady playback when sizing a project: a host acting once a
# minute, and every member joining and leaving once per hour of watching.
ACTIONS_PER_MINUTE = 1.0
JOINS_PER_MEMBER_HOUR = 1.0


def room_rates(room: Mapping[str, Any]) -> tuple[float, float]:
    """(messages per second, presence events per second) of one room of this size, with the
    assumed host actions and churn on top of its steady rate."""
    n = room["members"]
    steady = room["steady"]
    actions = room["actions"]
    per_action = sum(actions[a]["net"] for a in HOST_ACTIONS) / len(HOST_ACTIONS)
    churn = actions["join"]["net"] + actions["leave"]["net"]
    churn_presence = actions["join"]["presence_in"] + actions["leave"]["presence_in"]
    messages = (
        steady["messages_per_s"]
        + ACTIONS_PER_MINUTE * per_action / 60.0
        + n * JOINS_PER_MEMBER_HOUR * churn / 3600.0
    )
    presence = steady["presence_in_per_s"] + n * JOINS_PER_MEMBER_HOUR * churn_presence / 3600.0
    return messages, presence


def budget_rows(results: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """Per plan and room size: rooms a project carries within each quota, the binding one, and
    the monthly allowance in viewer-hours."""
    rows: list[list[Any]] = []
    for plan in PLANS:
        for room in results:
            n = room["members"]
            messages, presence = room_rates(room)
            by_connections = plan.connections // n
            by_messages = math.inf if messages <= 0 else plan.messages_per_s / messages
            by_presence = math.inf if presence <= 0 else plan.presence_per_s / presence
            rooms = min(by_connections, math.floor(by_messages), math.floor(by_presence))
            per_viewer_hour = messages / n * 3600.0
            included = plan.monthly_messages or 0
            viewer_hours = included / per_viewer_hour if per_viewer_hour > 0 else math.inf
            cost = per_viewer_hour * 1000 / 1e6 * PRICE_PER_MILLION
            rows.append(
                [
                    plan.name,
                    n,
                    by_connections,
                    _floor(by_messages),
                    _floor(by_presence),
                    rooms,
                    round(per_viewer_hour, 1),
                    _floor(viewer_hours),
                    round(cost, 3),
                ]
            )
    return rows


BUDGET_COLUMNS = [
    "plan",
    "members",
    "rooms by connections",
    "by messages/s",
    "by presence/s",
    "rooms",
    "messages / viewer-hour",
    "viewer-hours in the monthly quota",
    "$ per 1,000 viewer-hours beyond",
]


def _floor(value: float) -> int | str:
    return "unbounded" if math.isinf(value) else math.floor(value)
