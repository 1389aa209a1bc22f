"""A simulated media player: the physics of a real one without the media.

It reproduces what makes synchronisation hard: a playback clock that runs slightly fast or
slow (``rate_error``), seeks that land late and slightly off (``seek_latency``, ``seek_error``),
position reports with noise (``position_noise``) and buffering stalls (scripted, or random from
a seeded RNG).
Time comes from an injectable clock, so unit tests and simulations run in virtual time and the
network benchmarks in real time. State advances lazily: every call first replays what happened
since the previous one, so no background task is needed.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import AsyncIterator, Callable, Iterable

from watchium_client._hub import EventHub
from watchium_client.players._protocol import (
    PlayerClosedError,
    PlayerEvent,
    PlayerEventKind,
)

__all__ = ["SimulatedPlayer"]

logger = logging.getLogger(__name__)

_SEEK_LANDED = 0
_BUFFER_END = 1
_BUFFER_START = 2
_EOF = 3
_SPEED = 4


class SimulatedPlayer:
    """A `Player` model driven by a clock.

    Args:
        clock: seconds from a monotonic clock (``time.monotonic`` or a virtual clock).
        position: the starting position.
        rate_error: relative error of the playback clock; +0.003 plays at 1.003x the set speed.
        seek_latency: seconds from a seek request until playback resumes at the new position.
        seek_latency_jitter: each seek's latency varies uniformly by up to this many seconds.
        seek_error: standard deviation (seconds) of where a seek lands around its target.
        position_noise: standard deviation (seconds) of the noise on each position report.
        speed_latency: seconds until a new speed takes effect (audio already buffered plays at
            the old speed: mpv's is about 0.2 s).
        speed_glitch: standard deviation (seconds) of a position jump when a new speed takes
            effect (mpv's reported position steps by ~10 ms as its filters restart).
        duration: media length in seconds (None: endless); reaching it raises END_OF_FILE.
        buffering: scripted stalls as (start time on ``clock``, duration) pairs.
        buffering_per_hour: mean rate of random stalls while playing (0 disables them).
        buffering_mean: mean duration of a random stall (exponential), seconds.
        buffering_max: longest random stall, seconds.
        seed: seed of the RNG behind jitter, noise and random stalls.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        position: float = 0.0,
        rate_error: float = 0.0,
        seek_latency: float = 0.05,
        seek_latency_jitter: float = 0.0,
        seek_error: float = 0.0,
        position_noise: float = 0.0,
        speed_latency: float = 0.0,
        speed_glitch: float = 0.0,
        duration: float | None = None,
        buffering: Iterable[tuple[float, float]] = (),
        buffering_per_hour: float = 0.0,
        buffering_mean: float = 1.5,
        buffering_max: float = 10.0,
        seed: int | None = None,
    ) -> None:
        if (
            min(seek_latency, seek_latency_jitter, seek_error, position_noise) < 0
            or min(speed_latency, speed_glitch) < 0
        ):
            raise ValueError("latencies, errors and noise must be >= 0")
        if not -0.5 < rate_error < 0.5:
            raise ValueError("rate_error must be within (-0.5, 0.5)")
        if duration is not None and duration <= 0:
            raise ValueError("duration must be > 0")
        self._clock = clock
        self._rng = random.Random(seed)
        self.rate_error = rate_error
        self.seek_latency = seek_latency
        self.seek_latency_jitter = seek_latency_jitter
        self.seek_error = seek_error
        self.position_noise = position_noise
        self.speed_latency = speed_latency
        self.speed_glitch = speed_glitch
        self._duration = duration
        self._t = clock()
        self._pos = self._clamp(position)
        self._playing = False
        self._speed = 1.0
        self._effective_speed = 1.0
        self._speed_queue: list[tuple[float, float]] = []
        self._seek_at: float | None = None
        self._seek_target = 0.0
        self._buffer_end: float | None = None
        self._eof = False
        self._closed = False
        self._scripted = sorted((float(s), float(d)) for s, d in buffering)
        if any(d <= 0 for _, d in self._scripted):
            raise ValueError("scripted buffering durations must be > 0")
        self._buffering_per_hour = buffering_per_hour
        self._buffering_mean = buffering_mean
        self._buffering_max = buffering_max
        self._next_random = self._draw_next_stall(self._t)
        self._hub: EventHub[PlayerEvent] = EventHub()
        self.seeks = 0
        """How many seeks were requested (by the engine or `user_seek`)."""
        self.speed_changes = 0
        """How many times the speed was set to a new value."""

    # ------------------------------------------------------------------ the Player protocol

    @property
    def is_playing(self) -> bool:
        return self._playing

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def is_buffering(self) -> bool:
        self._advance()
        return self._buffer_end is not None

    @property
    def is_seeking(self) -> bool:
        self._advance()
        return self._seek_at is not None

    async def position(self) -> float:
        """The position, with ``position_noise`` added (never below 0)."""
        self._check_open()
        self._advance()
        if self.position_noise:
            return max(0.0, self._pos + self._rng.gauss(0.0, self.position_noise))
        return self._pos

    async def play(self) -> None:
        self._check_open()
        self._advance()
        self._playing = True

    async def pause(self) -> None:
        self._check_open()
        self._advance()
        self._playing = False

    async def seek(self, seconds: float) -> None:
        """Starts a seek; it lands after ``seek_latency`` (plus jitter) near ``seconds``.

        Raises:
            ValueError: ``seconds`` is negative or not finite.
            PlayerClosedError: the player is closed.
        """
        self._check_open()
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"seek target must be a finite number >= 0, got {seconds!r}")
        self._advance()
        latency = self.seek_latency
        if self.seek_latency_jitter:
            latency = max(0.0, latency + self._rng.uniform(-1, 1) * self.seek_latency_jitter)
        self._seek_at = self._t + latency
        self._seek_target = seconds
        self.seeks += 1

    async def set_speed(self, rate: float) -> None:
        """Sets the speed.

        Raises:
            ValueError: ``rate`` is not a positive finite number.
            PlayerClosedError: the player is closed.
        """
        self._check_open()
        if not math.isfinite(rate) or rate <= 0:
            raise ValueError(f"speed must be > 0, got {rate!r}")
        self._advance()
        if rate != self._speed:
            self.speed_changes += 1
            self._speed_queue.append((self._t + self.speed_latency, rate))
            self._advance()
        self._speed = rate

    def events(self) -> AsyncIterator[PlayerEvent]:
        return self._hub.subscribe()

    async def close(self) -> None:
        if self._closed:
            return
        self._advance()
        self._closed = True
        self._hub.publish(PlayerEvent(PlayerEventKind.CLOSED, at=self._t, position=self._pos))
        self._hub.close()

    # ------------------------------------------------------------------ simulation helpers

    def true_position(self) -> float:
        """The exact position now, without report noise (for measuring drift)."""
        self._advance()
        return self._pos

    def poll(self) -> None:
        """Replays what happened up to now, publishing the events due (buffering, end of file)."""
        self._advance()

    def stall(self, duration: float) -> None:
        """Starts a buffering stall of ``duration`` seconds now, as a scripted one would.

        Raises:
            ValueError: ``duration`` is not positive.
        """
        if not duration > 0:
            raise ValueError("a stall lasts more than 0 s")
        self._advance()
        self._scripted.append((self._t, float(duration)))
        self._scripted.sort()
        self._advance()

    async def user_pause(self) -> None:
        """Pauses as if the user clicked pause in the player, and reports it."""
        await self.pause()
        self._publish(PlayerEventKind.PAUSED)

    async def user_play(self) -> None:
        """Resumes as if the user clicked play in the player, and reports it."""
        await self.play()
        self._publish(PlayerEventKind.PLAYING)

    async def user_seek(self, seconds: float) -> None:
        """Seeks as if the user dragged the seek bar, and reports it."""
        await self.seek(seconds)
        self._publish(PlayerEventKind.SEEKED, position=seconds)

    async def user_set_speed(self, rate: float) -> None:
        """Changes the speed as if the user did it in the player, and reports it."""
        await self.set_speed(rate)
        self._publish(PlayerEventKind.SPEED_CHANGED, value=rate)

    # ------------------------------------------------------------------ internals

    def _check_open(self) -> None:
        if self._closed:
            raise PlayerClosedError("the simulated player is closed")

    def _clamp(self, position: float) -> float:
        position = max(0.0, position)
        return position if self._duration is None else min(position, self._duration)

    def _publish(self, kind: PlayerEventKind, **fields: float) -> None:
        self._hub.publish(
            PlayerEvent(kind, at=self._t, position=fields.pop("position", self._pos), **fields)
        )

    def _draw_next_stall(self, after: float) -> float | None:
        if self._buffering_per_hour <= 0:
            return None
        return after + self._rng.expovariate(self._buffering_per_hour / 3600.0)

    def _moving(self) -> bool:
        return (
            self._playing and self._buffer_end is None and self._seek_at is None and not self._eof
        )

    def _next_event(self, rate: float) -> tuple[float, int] | None:
        candidates: list[tuple[float, int]] = []
        if self._seek_at is not None:
            candidates.append((self._seek_at, _SEEK_LANDED))
        if self._buffer_end is not None:
            candidates.append((self._buffer_end, _BUFFER_END))
        else:
            if self._scripted:
                candidates.append((self._scripted[0][0], _BUFFER_START))
            if self._next_random is not None:
                candidates.append((self._next_random, _BUFFER_START))
        if self._speed_queue:
            candidates.append((self._speed_queue[0][0], _SPEED))
        if rate > 0 and self._duration is not None:
            candidates.append((self._t + (self._duration - self._pos) / rate, _EOF))
        return min(candidates) if candidates else None

    def _advance(self) -> None:
        if self._closed:
            return
        now = self._clock()
        while True:
            rate = self._effective_speed * (1.0 + self.rate_error) if self._moving() else 0.0
            event = self._next_event(rate)
            if event is None or event[0] > now:
                self._pos = self._clamp(self._pos + rate * max(0.0, now - self._t))
                self._t = max(self._t, now)
                return
            at = max(self._t, event[0])
            self._pos = self._clamp(self._pos + rate * (at - self._t))
            self._t = at
            self._apply(event[1], at)

    def _apply(self, kind: int, at: float) -> None:
        if kind == _SEEK_LANDED:
            error = self._rng.gauss(0.0, self.seek_error) if self.seek_error else 0.0
            self._pos = self._clamp(self._seek_target + error)
            self._seek_at = None
            self._eof = self._duration is not None and self._pos >= self._duration
        elif kind == _BUFFER_END:
            self._buffer_end = None
            self._publish(PlayerEventKind.BUFFERING_ENDED)
        elif kind == _BUFFER_START:
            if self._scripted and self._scripted[0][0] <= at:
                _, length = self._scripted.pop(0)
            else:
                self._next_random = self._draw_next_stall(at)
                if not self._moving():
                    return  # random stalls come from starved decoding: only while playing
                length = min(
                    self._buffering_max, max(0.1, self._rng.expovariate(1.0 / self._buffering_mean))
                )
            self._buffer_end = at + length
            logger.debug("simulated player buffering for %.2f s at %.3f", length, self._pos)
            self._publish(PlayerEventKind.BUFFERING_STARTED)
        elif kind == _SPEED:
            _, self._effective_speed = self._speed_queue.pop(0)
            if self.speed_glitch and self._moving():
                self._pos = self._clamp(self._pos + self._rng.gauss(0.0, self.speed_glitch))
        elif kind == _EOF:
            self._eof = True
            self._publish(PlayerEventKind.END_OF_FILE)
