"""What MpvPlayer keeps between mpv's messages, without an mpv: which reported changes it asked
for (`ExpectedChanges`), the position between reports (`PositionEstimate`) and which of mpv's
clocks it is (`MpvPosition`)."""

from __future__ import annotations

import pytest

from tests.client._fakes import FakeClock
from watchium_client.players.mpv._expected import EXPECT_FOR, ExpectedChanges
from watchium_client.players.mpv._position import MpvPosition, PositionEstimate


def expected() -> tuple[ExpectedChanges, FakeClock]:
    clock = FakeClock(10.0)
    return ExpectedChanges(clock, ("pause", "speed")), clock


def test_a_change_asked_for_is_ours_and_any_other_the_users() -> None:
    changes, _ = expected()
    token = changes.ask("pause", False)
    assert changes.reported("pause", False)
    changes.answered("pause", token, False)
    assert not changes.reported("pause", True)  # nobody here asked: the user paused


def test_coalesced_changes_settle_every_earlier_request() -> None:
    changes, _ = expected()
    changes.ask("pause", False)
    token = changes.ask("pause", True)
    # mpv applied both before reporting, and reports only the last value.
    assert changes.reported("pause", True)
    changes.answered("pause", token, True)
    assert not changes.reported("pause", False)


def test_a_reply_settles_the_requests_before_it() -> None:
    changes, _ = expected()
    first = changes.ask("speed", 1.5)
    second = changes.ask("speed", 1.25)
    changes.answered("speed", first, 1.5)
    changes.answered("speed", second, 1.25)
    # Neither change has been reported, and the first never will be once the second's reply is
    # in: a report of 1.5 now is someone else's.
    assert not changes.reported("speed", 1.5)


def test_a_value_mpv_already_reported_is_not_expected_again() -> None:
    changes, _ = expected()
    assert not changes.reported("speed", 1.5)  # the user set 1.5
    token = changes.ask("speed", 1.5)  # and so do we: mpv reports no change
    changes.answered("speed", token, 1.5)
    assert not changes.reported("speed", 1.5)  # the next 1.5 is the user's again


def test_an_expectation_lapses() -> None:
    changes, clock = expected()
    changes.ask("pause", True)
    clock.advance(EXPECT_FOR + 0.01)
    assert not changes.reported("pause", True)


def test_a_change_nobody_asked_for_supersedes_what_we_asked_for() -> None:
    changes, _ = expected()
    changes.ask("pause", True)
    assert not changes.reported("pause", False)
    assert not changes.reported("pause", True)


def test_a_failed_request_is_withdrawn() -> None:
    changes, _ = expected()
    token = changes.ask("pause", True)
    changes.withdraw("pause", through=token)
    assert not changes.reported("pause", True)


def test_speeds_compare_to_the_six_decimals_mpv_reports() -> None:
    changes, _ = expected()
    changes.ask("speed", 1.012346)
    assert changes.reported("speed", 1.0123456)
    changes.ask("speed", 1.01)
    assert not changes.reported("speed", 1.0101)


def test_the_position_advances_from_the_last_report_while_playback_moves() -> None:
    clock = FakeClock(100.0)
    position = PositionEstimate(clock)
    assert position.value is None
    position.push(10.0)
    clock.advance(0.5)
    assert position.read(1.0, moving=True) == pytest.approx(10.5)
    assert position.read(1.0, moving=False) == 10.0
    # Before the speed changes, the advance so far is folded into the anchor.
    position.advance(1.0)
    assert position.value == pytest.approx(10.5)
    clock.advance(0.5)
    assert position.read(2.0, moving=True) == pytest.approx(11.5)


def test_after_a_halt_the_position_advances_from_the_moment_playback_resumes() -> None:
    clock = FakeClock(100.0)
    position = PositionEstimate(clock)
    position.push(10.0)
    clock.advance(3.0)  # paused meanwhile
    position.restart()
    clock.advance(0.25)
    assert position.read(1.0, moving=True) == pytest.approx(10.25)
    position.forget()
    assert position.value is None
    position.restart()  # nothing to restart from
    assert position.value is None


def test_the_audio_clock_is_the_position_while_playing() -> None:
    clock = FakeClock(100.0)
    position = MpvPosition(clock)
    position.video = True
    position.playback_time(10.04)  # the frame on screen, a frame ahead of the audio
    assert position.value == 10.04  # nothing else known yet
    position.audio_pts(10.0)
    position.playback_time(10.08)
    assert position.audio and position.value == 10.0
    assert position.query() == ("audio-pts", "playback-time")
    # A file without audio has only playback-time.
    silent = MpvPosition(clock)
    silent.playback_time(3.0)
    assert silent.value == 3.0 and silent.query() == ("playback-time",)


def test_a_seek_holds_its_target_and_forgets_what_mpv_pushed_meanwhile() -> None:
    position = MpvPosition(FakeClock(100.0))
    position.audio_pts(10.0)
    position.seek_started(50.0)
    assert position.value == 50.0
    position.playback_time(50.0)
    position.audio_pts(49.8)  # the audio prepared ahead, not where playback is
    assert position.value == 50.0
    position.restarted(paused=False)
    assert position.value is None  # playing: ask mpv for the audio clock
    assert position.query() == ("audio-pts", "playback-time")


def test_paused_after_a_seek_the_position_is_where_playback_resumes() -> None:
    clock = FakeClock(100.0)
    # With video: the frame shown, where the audio resumes too.
    video = MpvPosition(clock)
    video.video = True
    video.audio_pts(1.0)
    video.seek_started(30.0)
    video.restarted(paused=True)
    assert video.query() == ("playback-time",)
    video.playback_time(30.021)
    video.audio_pts(29.83)  # lags by what is prepared: ignored while paused
    assert video.value == 30.021
    video.resumed()
    clock.advance(0.5)
    assert video.read(1.0, moving=True) == pytest.approx(30.521)
    video.audio_pts(30.52)
    assert video.value == 30.52
    # Without video: the target (mpv's clocks both lag while paused).
    audio = MpvPosition(clock)
    audio.audio_pts(1.0)
    audio.seek_started(None)  # the user's seek: its target comes with mpv's first push
    audio.playback_time(30.0)
    audio.restarted(paused=True)
    audio.playback_time(29.85)
    audio.audio_pts(29.85)
    assert audio.value == 30.0


def test_a_refused_seek_leaves_the_position_unknown() -> None:
    position = MpvPosition(FakeClock(100.0))
    position.audio_pts(10.0)
    position.seek_started(50.0)
    position.seek_failed()
    assert position.value is None
    position.audio_pts(10.1)
    assert position.value == 10.1
