"""Characters of simulated players: the profile the demo, the benchmarks and simulations share.

A :class:`PlayerProfile` says how a viewer's player misbehaves (its clock error, how long and how
precisely it seeks, how noisy its position reports are, how late a speed change lands, how often
it stalls) and makes :class:`SimulatedPlayer` instances with that character. The defaults
for everything but the clock and the seeks are what a desktop player such as mpv shows: seeks
landing within ~5 ms, ~2 ms of position noise, a speed change 0.2 s late with a ~5 ms jump.

:meth:`PlayerProfile.random` draws a viewer from a seeded RNG, so a seed always gives the same
party: a clock error uniform within +-0.5% and a seek latency uniform in 30-400 ms by default.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from watchium_client.players._simulated import SimulatedPlayer

__all__ = ["PlayerProfile"]


@dataclass(frozen=True, slots=True)
class PlayerProfile:
    """How one simulated viewer's player behaves (the arguments of :class:`SimulatedPlayer`).

    ``seek_latency_jitter`` None is a fifth of ``seek_latency``.
    """

    rate_error: float = 0.0
    seek_latency: float = 0.05
    seek_latency_jitter: float | None = None
    seek_error: float = 0.005
    position_noise: float = 0.002
    speed_latency: float = 0.2
    speed_glitch: float = 0.005
    buffering_per_hour: float = 0.0
    buffering_mean: float = 1.5
    buffering_max: float = 10.0

    @classmethod
    def random(
        cls,
        rng: random.Random,
        *,
        max_rate_error: float = 0.005,
        seek_latency: tuple[float, float] = (0.03, 0.4),
        **character: Any,
    ) -> PlayerProfile:
        """A viewer drawn from ``rng``: its clock error uniform within +-``max_rate_error``,
        then its seek latency uniform within ``seek_latency``; ``character`` sets the other
        fields. It draws exactly these two numbers, in this order, so callers drawing more from
        the same RNG keep their sequences."""
        rate_error = rng.uniform(-max_rate_error, max_rate_error)
        latency = rng.uniform(*seek_latency)
        return cls(rate_error=rate_error, seek_latency=latency, **character)

    def player(
        self,
        *,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        position: float = 0.0,
    ) -> SimulatedPlayer:
        """A new simulated player of this character.

        Args:
            seed: seed of its jitter, noise and random stalls.
            clock: its time source (``time.monotonic``, or a virtual clock in a simulation).
            position: where it starts.
        """
        jitter = self.seek_latency_jitter
        return SimulatedPlayer(
            clock=clock,
            position=position,
            rate_error=self.rate_error,
            seek_latency=self.seek_latency,
            seek_latency_jitter=0.2 * self.seek_latency if jitter is None else jitter,
            seek_error=self.seek_error,
            position_noise=self.position_noise,
            speed_latency=self.speed_latency,
            speed_glitch=self.speed_glitch,
            buffering_per_hour=self.buffering_per_hour,
            buffering_mean=self.buffering_mean,
            buffering_max=self.buffering_max,
            seed=seed,
        )
