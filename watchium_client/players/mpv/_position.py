"""Where mpv's playback is: which of its clocks to believe when, and between their reports.

mpv reports its clocks (``audio-pts``, ``playback-time``) in steps (per video frame, or per
audio chunk: 50-200 ms with ``--ao=null``), and each step is accurate when it is pushed. Polling
would see a staircase up to one step stale, so the position is the last pushed value advanced at
the playback speed from the moment it arrived (`PositionEstimate`): the media clock to about a
millisecond.

Which clock (`MpvPosition`), measured on mpv 0.35 with ``--ao=null``:

* **Playing**: the audio clock (``audio-pts``), what is heard. With video, ``playback-time`` is
  the frame on screen, reported up to a frame ahead of the audio by an amount that changes with
  every seek. A file without audio has only ``playback-time``.
* **Paused after a seek**: where playback will resume. ``audio-pts`` then lags by the audio
  prepared ahead (100-200 ms); so, without video, does ``playback-time``, while playback resumes
  at the seek target. With video, playback resumes with the first frame shown, at
  ``playback-time`` (an exact seek lands on the frame at or after its target, a keyframe seek on
  a keyframe).
* **During a seek**: the target; what mpv pushes meanwhile is the target too, not where it lands.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["MpvPosition", "PositionEstimate"]


class PositionEstimate:
    """The last position mpv pushed and the local time it arrived; while playback moves, the
    position is that value advanced at the playback speed since then."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        # The anchor position; None when unknown (the player then asks mpv).
        self.value: float | None = None
        self._at = 0.0

    def push(self, value: float) -> None:
        """A position mpv reported, valid now."""
        self.value = value
        self._at = self._clock()

    def forget(self) -> None:
        self.value = None

    def read(self, speed: float, *, moving: bool) -> float:
        """The position now (the anchor must be known)."""
        assert self.value is not None
        if moving:
            return self.value + (self._clock() - self._at) * speed
        return self.value

    def advance(self, speed: float) -> None:
        """Moves the anchor to now, at ``speed`` (before the speed or the play state changes)."""
        if self.value is not None:
            now = self._clock()
            self.value += (now - self._at) * speed
            self._at = now

    def restart(self) -> None:
        """The anchor position holds until now (playback was halted): advance from here."""
        if self.value is not None:
            self._at = self._clock()


class MpvPosition(PositionEstimate):
    """`PositionEstimate` fed with the clock mpv's state calls for (see the module docstring).

    The player reports mpv's pushes (`audio_pts`, `playback_time`, `video`) and its seeks
    (`seek_started`, `restarted`, `resumed`); `query` names the property to ask for when no
    anchor is known.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__(clock)
        self.audio = False
        """The file has an audio clock (an ``audio-pts`` was reported since it was loaded)."""
        self.video = False
        """The file shows video frames."""
        self._seeking = False
        self._target: float | None = None
        self._halted_seek = False  # paused since a seek landed: the audio clock is not valid

    def loaded(self) -> None:
        """A new file: nothing known about its clocks yet."""
        self.forget()
        self.audio = False
        self._seeking = True  # until its first frame is ready
        self._target = None
        self._halted_seek = False

    def audio_pts(self, value: float | None) -> None:
        if value is None:
            return  # none while seeking or reconfiguring: the other rules cover those
        self.audio = True
        if not (self._seeking or self._halted_seek):
            self.push(value)

    def playback_time(self, value: float | None) -> None:
        if value is None:
            if not self.audio:
                self.forget()
            return
        if self._seeking:
            if self._target is None:
                self._target = value  # mpv pushes a seek's target as it starts
            return
        if self._halted_seek:
            if self.video:
                self.push(value)  # the frame shown: where playback resumes
        elif not self.audio:
            self.push(value)

    def seek_started(self, target: float | None) -> None:
        """A seek began (``target``: where to, when known: a seek the player itself sent)."""
        self._seeking = True
        self._target = target
        if target is not None:
            self.push(target)

    def seek_failed(self) -> None:
        """The seek was refused: nothing moved."""
        self._seeking = False
        self.forget()

    def restarted(self, *, paused: bool) -> None:
        """The seek landed (mpv's ``playback-restart``)."""
        self._seeking = False
        self._halted_seek = paused
        self.forget()
        if paused and not self.video and self._target is not None:
            self.push(self._target)  # a file without video resumes at the target

    def resumed(self) -> None:
        """Playback resumed after a pause."""
        self._halted_seek = False
        self.restart()

    def query(self) -> tuple[str, ...]:
        """The properties to ask mpv for, in order, when no anchor is known."""
        if self._halted_seek or self._seeking or not self.audio:
            return ("playback-time",)
        return ("audio-pts", "playback-time")
