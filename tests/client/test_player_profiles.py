"""PlayerProfile: one description of a simulated player's character, for the demo and benchmarks."""

from __future__ import annotations

import random

from tests.client._fakes import FakeClock
from watchium_client.players import PlayerProfile


def test_a_profile_makes_players_of_its_character() -> None:
    clock = FakeClock()
    profile = PlayerProfile(rate_error=0.003, seek_latency=0.25, buffering_per_hour=6.0)
    player = profile.player(seed=1, clock=clock, position=42.0)
    assert player.rate_error == 0.003 and player.seek_latency == 0.25
    assert player.seek_latency_jitter == 0.05, "a fifth of the seek latency by default"
    assert player.true_position() == 42.0
    explicit = PlayerProfile(seek_latency=0.25, seek_latency_jitter=0.0).player(clock=clock)
    assert explicit.seek_latency_jitter == 0.0


def test_random_profiles_repeat_with_their_seed_and_draw_two_numbers() -> None:
    first, second = random.Random(5), random.Random(5)
    a = PlayerProfile.random(first, buffering_max=4.0)
    b = PlayerProfile.random(second, buffering_max=4.0)
    assert a == b and a.buffering_max == 4.0
    assert -0.005 <= a.rate_error <= 0.005 and 0.03 <= a.seek_latency <= 0.4
    # Callers draw their own numbers from the same RNG: exactly two were taken.
    reference = random.Random(5)
    reference.random(), reference.random()
    assert first.random() == reference.random()
