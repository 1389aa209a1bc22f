"""The sync engine: keeps one player aligned with the room's authoritative playback model.

The room row is the authority for everyone. Each tick it reads the player's position, computes
the room's position from the row and the server clock (`ClockSync`), and lets the pure policy
(`watchium_client.sync._policy.decide`) choose what to do.

One player is the room's *reference*: its user hosts the room, so every change of the room is
that user's own action, made from that player or applied to it. The reference is not corrected
for the room's change; if it ends up off the room, the room is moved to it (`RoomReference`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Protocol

from watchium_client._aio import wait_event
from watchium_client.players import (
    Player,
    PlayerClosedError,
    PlayerError,
    PlayerEvent,
    PlayerEventKind,
)
from watchium_client.sync._clock import ClockSync
from watchium_client.sync._playback import PlaybackState
from watchium_client.sync._policy import (
    Observation,
    PolicyState,
    SyncDecision,
    SyncPhase,
    decide,
)
from watchium_client.sync._speed_latency import SpeedLatency
from watchium_client.sync._stats import DriftStats, DriftSummary
from watchium_client.sync._thresholds import SyncThresholds

__all__ = ["RoomReference", "SyncEngine", "SyncStatus"]

logger = logging.getLogger(__name__)

_MEASURED_PHASES = frozenset({SyncPhase.IN_SYNC, SyncPhase.CORRECTING})


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """The engine's view after its last tick (for presence and heartbeats)."""

    phase: SyncPhase
    drift: float | None
    """Player position minus room position, seconds (None before the first measurement)."""
    is_synced: bool
    """|drift| within the sync tolerance (2 s, the database's rule)."""
    is_buffering: bool
    position: float | None
    """The player's position at the last tick."""
    target: float | None
    """The room's position at the last tick."""
    speed: float
    """The speed the player runs at (room speed x trim x nudge)."""
    trim: float
    """Learned correction of the player's clock rate (relative)."""
    seek_latency: float
    """Learned seek latency of the player, seconds."""
    speed_latency: float
    """Learned time the player takes to apply a speed change, seconds."""
    clock_error_bound: float
    """Worst-case error of the server clock estimate, seconds."""
    measured_at: float | None
    """Local time (`ClockSync.local_now`) of the last tick."""


class RoomReference(Protocol):
    """The side of a session that may move the room to where its player is: the host's."""

    @property
    def is_reference(self) -> bool:
        """Whether the engine's player is the room's reference now (its user hosts the room)."""
        ...

    def reanchor(self, position: float, at: float) -> None:
        """Moves the room so that it is at ``position`` at server time ``at`` (without waiting:
        the engine must not)."""
        ...


class SyncEngine:
    """Drives a `Player` to follow a room.

    Feed it the room's state with `update_room` and clock samples through the `ClockSync` it was
    given; run it with `start`/`stop` (or `run`), or call `tick` yourself (simulations do, in
    virtual time). Read `status` and `stats` for presence and heartbeats.

    Args:
        player: the player to drive.
        clock: the server clock estimate; the engine waits until it has a sample.
        thresholds: the policy's tunables (defaults: see docs/SYNC_ENGINE.md).
        on_user_action: called with each pause, play, seek or speed change made in the player's
            own UI (a host's SDK turns it into a room action; a member's may show a notice).
        on_episode_change: awaited when the room moves to another episode, before aligning
            (load the new episode into the player there).
        reference: when the player is the room's reference, and how to move the room to it.
    """

    def __init__(
        self,
        player: Player,
        clock: ClockSync,
        *,
        thresholds: SyncThresholds | None = None,
        on_user_action: Callable[[PlayerEvent], None] | None = None,
        on_episode_change: Callable[[PlaybackState], Awaitable[None]] | None = None,
        reference: RoomReference | None = None,
    ) -> None:
        self._player = player
        self._clock = clock
        self._th = thresholds or SyncThresholds()
        self._on_user_action = on_user_action
        self._on_episode_change = on_episode_change
        self._reference = reference
        self._state = PolicyState.initial(self._th)
        self._speed_latency = SpeedLatency(
            self._th.initial_speed_latency, limit=self._th.max_speed_latency
        )
        self._stats = DriftStats(self._th.sync_tolerance)
        self._room: PlaybackState | None = None
        self._room_changed = False
        self._episode_pending = False
        self._hold_until = -math.inf
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._last: SyncDecision | None = None
        self._position: float | None = None
        self._target: float | None = None
        self._measured_at: float | None = None

    # ------------------------------------------------------------------ inputs

    def update_room(self, state: PlaybackState, *, ordered: bool = False) -> bool:
        """Takes a new room state (from Realtime, an RPC result or a poll).

        A state that changes the playback (position, reference time, play/pause, speed,
        episode) is a host action: it ends any hold, clears the seek cooldown and is applied at
        the next tick, which a running engine does at once. A state whose previous one reaches
        its position at its reference time is a scheduled speed change
        (`PlaybackState.continuing`). A state of the same room older than
        the current one (an earlier ``updated_at``: a late reply overtaken by a Realtime change)
        is ignored, unless ``ordered``: the caller already keeps states in the order they were
        written (e.g. by the row's own ``updated_at``), which the reference time alone cannot
        tell when a host acts during a scheduled start (its reference time is in the future, so
        the next action's is earlier). Returns whether the state was taken as a change.
        """
        previous = self._room
        if previous is not None and not state.video_url and state.same_episode(previous):
            # A row read without its video (sync-get-host-time): the video is the one known.
            state = replace(state, video_url=previous.video_url)
        if (
            not ordered
            and previous is not None
            and previous.room_id == state.room_id
            and state.updated_at < previous.updated_at
        ):
            logger.debug(
                "ignoring a stale room state (%.3f < %.3f)", state.updated_at, previous.updated_at
            )
            return False
        if previous is not None and previous.same_playback(state):
            self._room = replace(state, lead_in_speed=previous.lead_in_speed)
            return False
        if previous is not None:
            state = state.continuing(previous)
        self._room = state
        if previous is not None and not previous.same_episode(state):
            self._episode_pending = True
        self._room_changed = True
        self._hold_until = -math.inf
        self._wake.set()
        return True

    def handle_player_event(self, event: PlayerEvent) -> None:
        """Takes one player event (`run` feeds them from the player; call it yourself when
        ticking by hand)."""
        if event.kind is PlayerEventKind.SPEED_CHANGED and event.value is not None:
            self._speed_latency.changed(self._clock.local_now(), event.value)
        if event.is_user_action:
            self._hold_until = self._clock.local_now() + self._th.user_hold
            logger.debug(
                "user %s in the player: hands off for %.1f s", event.kind, self._th.user_hold
            )
            if self._on_user_action is not None:
                self._on_user_action(event)
        elif event.kind is PlayerEventKind.CLOSED:
            self._closed = True
        self._wake.set()

    # ------------------------------------------------------------------ outputs

    @property
    def player(self) -> Player:
        return self._player

    @property
    def clock(self) -> ClockSync:
        return self._clock

    @property
    def thresholds(self) -> SyncThresholds:
        return self._th

    @property
    def room(self) -> PlaybackState | None:
        """The room state the engine follows."""
        return self._room

    @property
    def episode_loaded(self) -> bool:
        """Whether the player has the room's episode: the engine follows a room and, if that
        room moved to another episode, ``on_episode_change`` has returned."""
        return self._room is not None and not self._episode_pending

    @property
    def policy_state(self) -> PolicyState:
        """The policy's memory (phase, nudge, trim, seek latency, cooldown)."""
        return self._state

    @property
    def phase(self) -> SyncPhase:
        return self._state.phase

    @property
    def drift(self) -> float | None:
        """The drift measured at the last tick (None before)."""
        return None if self._last is None else self._last.drift

    @property
    def is_synced(self) -> bool:
        """|drift| within the sync tolerance at the last tick (False before the first one)."""
        drift = self.drift
        return drift is not None and abs(drift) <= self._th.sync_tolerance

    @property
    def is_buffering(self) -> bool:
        """Whether the player is stalled waiting for data."""
        return self._player.is_buffering

    @property
    def status(self) -> SyncStatus:
        """Everything presence and heartbeats need, as of the last tick."""
        return SyncStatus(
            phase=self._state.phase,
            drift=self.drift,
            is_synced=self.is_synced,
            is_buffering=self._player.is_buffering,
            position=self._position,
            target=self._target,
            speed=self._player.speed,
            trim=self._state.trim,
            seek_latency=self._state.seek_latency,
            speed_latency=self._speed_latency.value,
            clock_error_bound=self._clock.error_bound,
            measured_at=self._measured_at,
        )

    def stats(self) -> DriftSummary:
        """Drift statistics since start or the last `reset_stats`. Samples are taken while the
        room and the player both play, outside seeks, stalls and holds."""
        return self._stats.summary()

    def reset_stats(self) -> None:
        """Starts the statistics afresh."""
        self._stats.reset()

    # ------------------------------------------------------------------ the loop

    async def tick(self) -> SyncDecision | None:
        """Measures once, decides and applies the decision to the player.

        Returns the decision, or None while there is no room state or clock sample yet.

        Raises:
            PlayerError: the player failed (PlayerClosedError once it is gone).
        """
        async with self._lock:
            room = self._room
            if room is None or not self._clock.has_samples:
                return None
            if self._episode_pending:
                if self._on_episode_change is not None:
                    # Cleared only once loaded, so a failed load is retried on the next tick.
                    await self._on_episode_change(room)
                self._episode_pending = False
            before = self._clock.local_now()
            position = await self._player.position()
            # The position was read somewhere in [before, after]: the midpoint halves the error.
            now = (before + self._clock.local_now()) / 2
            # An action in the player's UI changes its state and publishes its event in the same
            # step; let events already published be handled before that state is read, so that
            # a hold starts before anything can undo what the user did.
            await asyncio.sleep(0)
            room = self._room  # a room change may have arrived meanwhile: decide on it
            assert room is not None  # once set, never unset
            server_now = self._clock.to_server(now)
            started = room.has_started(server_now)
            latency = self._speed_latency.value
            command, switch_in = _command_speed(room, server_now, latency)
            playing = self._player.is_playing
            seeking = self._player.is_seeking
            buffering = self._player.is_buffering
            self._speed_latency.observe(
                now, position, self._player.speed, playing and not (seeking or buffering)
            )
            obs = Observation(
                now=now,
                target=room.target_position(server_now),
                position=position,
                room_playing=started,
                room_scheduled=room.is_playing and not started,
                starts_in=max(0.0, room.updated_at - server_now),
                room_speed=room.speed_at(server_now) or room.playback_speed,
                command_speed=command,
                command_switch_in=switch_in,
                speed_latency=latency,
                reference=self._reference is not None and self._reference.is_reference,
                player_playing=playing,
                player_speed=self._player.speed,
                seeking=seeking,
                buffering=buffering,
                room_changed=self._room_changed,
                hold=now < self._hold_until,
                clock_offset=self._clock.offset,
            )
            self._room_changed = False
            self._state, decision = decide(self._state, obs, self._th)
            self._last = decision
            self._position = position
            self._target = obs.target
            self._measured_at = now
            if decision.phase in _MEASURED_PHASES:
                self._stats.add(decision.drift)
            if decision.correction is not None:
                self._stats.count_correction(decision.correction)
                logger.debug(
                    "correction %s at drift %+.1f ms", decision.correction, decision.drift * 1000
                )
            if decision.reanchor and self._reference is not None:
                logger.debug(
                    "reference off the room by %+.1f ms: moving the room", obs.drift * 1000
                )
                self._reference.reanchor(position, server_now)
            await self._apply(decision, now)
            return decision

    async def _apply(self, decision: SyncDecision, now: float) -> None:
        # Pause before seeking (a paused seek shows the exact frame) and seek before playing
        # (so playback starts at the right place).
        if decision.set_playing is False:
            await self._player.pause()
        if decision.seek_to is not None:
            await self._player.seek(decision.seek_to)
        if decision.set_speed is not None:
            await self._player.set_speed(decision.set_speed)
            self._speed_latency.changed(now, decision.set_speed)
        if decision.set_playing is True:
            await self._player.play()

    async def run(self) -> None:
        """Ticks every ``tick_interval`` (at once on a room change or a player event) until
        cancelled or the player closes. Player errors are logged and retried on the next tick."""
        events = self._player.events()
        pump = asyncio.create_task(self._pump(events))
        failing = False
        try:
            while not self._closed:
                try:
                    await self.tick()
                    failing = False
                except PlayerClosedError:
                    logger.info("player closed: sync engine stops")
                    break
                except PlayerError as exc:
                    # Say it once, not ten times a second (e.g. while no file is loaded).
                    logger.log(
                        logging.DEBUG if failing else logging.WARNING, "sync tick failed: %s", exc
                    )
                    failing = True
                await self._sleep()
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    def start(self) -> asyncio.Task[None]:
        """Runs `run` in a background task (once) and returns it."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name="watchium-sync-engine")
        return self._task

    async def stop(self) -> None:
        """Stops the background task started by `start` (the player stays open)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _pump(self, events: AsyncIterator[PlayerEvent]) -> None:
        async for event in events:
            self.handle_player_event(event)
            if event.kind is PlayerEventKind.CLOSED:
                return

    async def _sleep(self) -> None:
        timeout = self._th.tick_interval
        if self._last is not None and self._last.wake_in is not None:
            # Starting on time (a scheduled start, or a room reaching a waiting player) needs
            # a tick at that moment, not up to one interval later.
            timeout = min(timeout, self._last.wake_in)
        await wait_event(self._wake, timeout)
        self._wake.clear()


def _command_speed(
    room: PlaybackState, server_now: float, latency: float
) -> tuple[float, float | None]:
    """The room speed to tell the player now, and seconds until that changes: ahead of a
    scheduled speed change the new speed is told ``latency`` early, so it is heard on time."""
    if room.is_playing and room.lead_in_speed is not None and server_now < room.updated_at:
        switch_at = room.updated_at - latency
        if server_now < switch_at:
            return room.lead_in_speed, switch_at - server_now
    return room.playback_speed, None
