"""`MpvPlayer`: the `Player` protocol on top of an mpv JSON IPC connection.

It keeps the properties mpv pushes (pause, speed, buffering, seeking, end of file), turns mpv's
events into `PlayerEvent`s, and answers `position` without a round trip: the position is where
playback is heard (mpv's audio clock while playing, where it will resume while paused: which of
mpv's clocks says so when is `MpvPosition`'s).

Who did it. mpv reports a pause, a seek or a speed change the same way whoever asked for it.
Pauses and speed changes this class requested are expected by value (`ExpectedChanges`); a seek
is its own while one it started is in flight. Any other change is reported as an event, as an
action of the user in mpv's own UI.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import shutil
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

from watchium_client._hub import EventHub
from watchium_client.players._protocol import (
    PlayerClosedError,
    PlayerError,
    PlayerEvent,
    PlayerEventKind,
)
from watchium_client.players.mpv._expected import ExpectedChanges, same_value
from watchium_client.players.mpv._ipc import MpvConnection
from watchium_client.players.mpv._position import MpvPosition
from watchium_client.players.mpv._process import (
    find_mpv,
    open_ipc_socket,
    start_mpv,
    stop_process,
)

__all__ = ["MpvPlayer"]

_OBSERVED = (
    "pause",
    "vid",
    "audio-pts",
    "playback-time",
    "speed",
    "paused-for-cache",
    "seeking",
    "eof-reached",
)


class MpvPlayer:
    """Drives an mpv process over JSON IPC. Create it with `launch` or `attach`.

    Use it as an async context manager, or call `close` (which quits mpv if `launch` started it).
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        process: asyncio.subprocess.Process | None = None,
        workdir: Path | None = None,
        socket_path: Path | None = None,
        request_timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Wraps an open IPC connection (use `launch` or `attach` instead)."""
        self._process = process
        self._workdir = workdir
        self._socket_path = socket_path
        self._clock = clock
        self._hub: EventHub[PlayerEvent] = EventHub()
        self._file_waiters: list[asyncio.Future[str | None]] = []
        # Property state as last pushed by mpv.
        self._paused = True
        self._speed = 1.0
        self._buffering = False
        self._seeking_prop = False
        self._eof = False
        self._seen: set[str] = set()
        self._position = MpvPosition(clock)
        self._expected = ExpectedChanges(clock, ("pause", "speed"))
        self._own_seek_pending = False
        self._user_seek = False
        self._file_loaded = False
        self._ipc = MpvConnection(
            reader,
            writer,
            on_event=self._on_event,
            on_property=self._on_property,
            on_closed=self._on_closed,
            request_timeout=request_timeout,
        )

    # ------------------------------------------------------------------ construction

    @classmethod
    async def launch(
        cls,
        media: str | os.PathLike[str] | None = None,
        *,
        mpv: str = "mpv",
        headless: bool = False,
        start_paused: bool = True,
        use_config: bool = True,
        extra_args: Sequence[str] = (),
        timeout: float = 10.0,
    ) -> MpvPlayer:
        """Starts mpv with an IPC socket of its own, connects, and loads ``media`` if given.

        Args:
            media: a file path or URL to load (see `load`).
            mpv: the mpv binary (name on PATH or path).
            headless: no video or audio output (``--vo=null --ao=null``), for tests and servers.
            start_paused: load paused, so the sync engine decides when playback starts.
            use_config: read the user's mpv config; False adds ``--no-config``.
            extra_args: more mpv options.
            timeout: seconds to wait for the socket and for the media to load.

        Raises:
            MpvNotFoundError: mpv is not installed (the message says how to install it).
            FileNotFoundError: ``media`` is a local path that does not exist.
            PlayerError: mpv exited or its socket did not appear in time (with mpv's own
                message), or mpv could not open ``media``.
        """
        binary = find_mpv(mpv)
        if media is not None:
            media = _check_media(media)
        started = await start_mpv(
            binary,
            headless=headless,
            start_paused=start_paused,
            use_config=use_config,
            extra_args=extra_args,
        )
        try:
            reader, writer = await started.connect(timeout)
        except BaseException:
            await started.discard()
            raise
        player = cls(
            reader,
            writer,
            process=started.process,
            workdir=started.workdir,
            socket_path=started.socket_path,
        )
        try:
            await player._ipc.observe(*_OBSERVED)
            if media is not None:
                await player.load(media, timeout=timeout)
        except BaseException:
            await player.close()
            raise
        return player

    @classmethod
    async def attach(
        cls, socket_path: str | os.PathLike[str], *, timeout: float = 5.0
    ) -> MpvPlayer:
        """Connects to an mpv running with ``--input-ipc-server=<socket_path>``.

        Waits up to ``timeout`` seconds for the socket to accept (mpv may still be starting).
        `close` then only disconnects; mpv keeps running.

        Raises:
            PlayerError: nothing accepted at ``socket_path`` in time (the message says how to
                start mpv).
        """
        path = Path(socket_path)
        reader, writer = await open_ipc_socket(path, timeout)
        player = cls(reader, writer, socket_path=path)
        try:
            await player._ipc.observe(*_OBSERVED)
        except BaseException:
            await player.close()
            raise
        return player

    async def __aenter__(self) -> MpvPlayer:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ the Player protocol

    @property
    def is_playing(self) -> bool:
        return not self._paused

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def is_buffering(self) -> bool:
        return self._buffering

    @property
    def is_seeking(self) -> bool:
        return self._own_seek_pending or self._seeking_prop

    @property
    def is_closed(self) -> bool:
        return self._ipc.closed

    @property
    def socket_path(self) -> Path | None:
        """The IPC socket (other clients, such as scripts or a remote, may connect to it too)."""
        return self._socket_path

    @property
    def process(self) -> asyncio.subprocess.Process | None:
        """The mpv process, when `launch` started it."""
        return self._process

    async def position(self) -> float:
        """The playback position in seconds.

        Raises:
            PlayerError: no file is loaded.
            PlayerClosedError: mpv is gone.
        """
        self._ipc.check_open()
        if self._position.value is None:
            value = None
            for name in self._position.query():
                value = await self.get_property(name)
                if isinstance(value, int | float):
                    break
            if not isinstance(value, int | float):
                raise PlayerError("mpv has no playback position: no file is loaded")
            self._position.push(float(value))
        return self._position.read(self._speed, moving=self._moving())

    async def play(self) -> None:
        await self._set_expected("pause", False)

    async def pause(self) -> None:
        await self._set_expected("pause", True)

    async def seek(self, seconds: float) -> None:
        """Starts an exact seek to ``seconds``; `is_seeking` stays true until it has landed.

        Raises:
            ValueError: ``seconds`` is negative or not finite.
            PlayerError: mpv refused (e.g. no file loaded).
        """
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"seek target must be a finite number >= 0, got {seconds!r}")
        self._own_seek_pending = True
        self._position.seek_started(float(seconds))
        try:
            await self.command("seek", seconds, "absolute+exact")
        except BaseException:
            self._own_seek_pending = False
            self._position.seek_failed()
            raise

    async def set_speed(self, rate: float) -> None:
        """Sets the speed (mpv keeps the pitch with its scaletempo filter).

        Raises:
            ValueError: ``rate`` is not a positive finite number.
        """
        if not math.isfinite(rate) or rate <= 0:
            raise ValueError(f"speed must be > 0, got {rate!r}")
        # mpv reports the speed with 6 decimals: ask for what it will report back.
        await self._set_expected("speed", round(float(rate), 6))

    def events(self) -> AsyncIterator[PlayerEvent]:
        return self._hub.subscribe()

    async def close(self) -> None:
        """Disconnects; if `launch` started mpv, quits it (and kills it if it does not exit)."""
        if self._process is not None and not self._ipc.closed:
            with contextlib.suppress(PlayerError, TimeoutError):
                async with asyncio.timeout(2.0):
                    await self._ipc.request(["quit"])
        await self._ipc.close("the player was closed")
        if self._process is not None:
            await stop_process(self._process)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)

    # ------------------------------------------------------------------ more of mpv

    async def load(self, media: str | os.PathLike[str], *, timeout: float = 10.0) -> None:
        """Loads a file or URL in place of the current one and waits until it is open.

        Raises:
            FileNotFoundError: ``media`` is a local path that does not exist.
            PlayerError: mpv could not open it (with mpv's reason), or not within ``timeout``.
        """
        target = _check_media(media)
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[str | None] = loop.create_future()
        self._file_waiters.append(waiter)
        try:
            await self.command("loadfile", target, "replace")
            async with asyncio.timeout(timeout):
                error = await waiter
        except TimeoutError as exc:
            raise PlayerError(f"mpv did not open {target} within {timeout:g} s") from exc
        finally:
            if waiter in self._file_waiters:
                self._file_waiters.remove(waiter)
        if error is not None:
            raise PlayerError(f"mpv could not open {target}: {error}")
        self._eof = False
        # The file is open (its first frame is ready); mpv may report the end of its opening
        # seek a moment later: read it rather than wait for the report.
        self._seeking_prop = bool(await self.get_property("seeking"))

    async def get_property(self, name: str) -> Any:
        """Reads an mpv property (None when mpv says it is unavailable).

        Raises:
            PlayerError: mpv refused the request for another reason.
        """
        return await self._ipc.get_property(name)

    async def set_property(self, name: str, value: Any) -> None:
        """Sets an mpv property (as an action of this class: no event is reported for it)."""
        await self._ipc.set_property(name, value)

    async def command(self, *args: Any) -> Any:
        """Sends an mpv command and returns its ``data``.

        Raises:
            PlayerError: mpv answered with an error, or did not answer in time.
            PlayerClosedError: mpv is gone.
        """
        return await self._ipc.command(*args)

    # ------------------------------------------------------------------ internals

    async def _set_expected(self, name: str, value: Any) -> None:
        token = self._expected.ask(name, value)
        try:
            await self.set_property(name, value)
        except BaseException:
            self._expected.withdraw(name, through=token)
            raise
        self._expected.answered(name, token, value)
        # mpv has applied it: reflect it now rather than when the property change arrives,
        # so that the caller reads back what it just set.
        if name == "pause":
            self._apply_pause(bool(value))
        else:
            self._apply_speed(float(value))

    def _apply_pause(self, paused: bool) -> None:
        if paused == self._paused:
            return
        self._rebase()
        self._paused = paused
        if not paused:
            # The position held while paused is valid up to now: extrapolate from here.
            self._position.resumed()

    def _apply_speed(self, speed: float) -> None:
        if speed == self._speed:
            return
        self._rebase()
        self._speed = speed

    def _moving(self) -> bool:
        return not (self._paused or self._buffering or self.is_seeking or self._eof)

    def _rebase(self) -> None:
        # Fold the extrapolated advance into the anchor before the rate of advance changes.
        if self._moving():
            self._position.advance(self._speed)

    def _publish(self, kind: PlayerEventKind, value: float | None = None) -> None:
        self._hub.publish(
            PlayerEvent(kind, at=self._clock(), position=self._position.value, value=value)
        )

    def _on_closed(self, reason: str) -> None:
        error = PlayerClosedError(f"mpv is not available: {reason}")
        for waiter in self._file_waiters:
            if not waiter.done():
                waiter.set_exception(error)
        self._hub.publish(PlayerEvent(PlayerEventKind.CLOSED, at=self._clock()))
        self._hub.close()

    def _on_event(self, event: str, message: dict[str, Any]) -> None:
        if event == "seek":
            if not self._own_seek_pending:
                self._user_seek = True
                self._position.seek_started(None)
        elif event == "playback-restart":
            own = self._own_seek_pending
            self._own_seek_pending = False
            self._position.restarted(paused=self._paused)
            if not own and self._user_seek:
                # Where it landed is not known yet (a keyframe seek lands away from its target):
                # the event has no position, and the next read asks mpv.
                self._publish(PlayerEventKind.SEEKED)
            self._user_seek = False
            if self._file_loaded:
                # A file counts as open once its first frame is ready, not at file-loaded.
                self._file_loaded = False
                for waiter in self._file_waiters:
                    if not waiter.done():
                        waiter.set_result(None)
        elif event == "file-loaded":
            self._file_loaded = True
            self._position.loaded()
        elif event == "end-file":
            reason = message.get("reason")
            if reason == "error":
                error = str(message.get("file_error") or "unknown error")
                for waiter in self._file_waiters:
                    if not waiter.done():
                        waiter.set_result(error)
            elif reason == "eof" and not self._eof:
                self._eof = True
                self._publish(PlayerEventKind.END_OF_FILE)

    def _on_property(self, name: str, data: Any) -> None:
        first = name not in self._seen
        self._seen.add(name)
        if name == "audio-pts":
            self._position.audio_pts(float(data) if isinstance(data, int | float) else None)
        elif name == "playback-time":
            self._position.playback_time(float(data) if isinstance(data, int | float) else None)
        elif name == "vid":
            self._position.video = isinstance(data, int) and not isinstance(data, bool)
        elif name == "pause":
            paused = bool(data)
            expected = self._expected.reported(name, paused)
            if paused == self._paused:
                return  # already applied when our command succeeded
            self._apply_pause(paused)
            # keep-open pauses at the end of the file by itself: not the user.
            if first or expected or (paused and self._eof):
                return
            self._publish(PlayerEventKind.PAUSED if paused else PlayerEventKind.PLAYING)
        elif name == "speed":
            if not isinstance(data, int | float):
                return
            speed = float(data)
            expected = self._expected.reported(name, speed)
            if same_value("speed", speed, self._speed):
                return
            self._apply_speed(speed)
            if first or expected:
                return
            self._publish(PlayerEventKind.SPEED_CHANGED, value=self._speed)
        elif name == "paused-for-cache":
            buffering = bool(data)
            if buffering == self._buffering:
                return
            self._rebase()
            self._buffering = buffering
            self._position.restart()
            self._publish(
                PlayerEventKind.BUFFERING_STARTED if buffering else PlayerEventKind.BUFFERING_ENDED
            )
        elif name == "seeking":
            self._seeking_prop = bool(data)
        elif name == "eof-reached":
            eof = bool(data)
            if eof and not self._eof:
                self._eof = True
                if not first:
                    self._publish(PlayerEventKind.END_OF_FILE)
            elif not eof:
                self._eof = False


def _check_media(media: str | os.PathLike[str]) -> str:
    text = os.fspath(media)
    if "://" in text:  # a URL: mpv opens it
        return text
    path = Path(text).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"media file not found: {path} (check the path, or pass an http(s) URL)"
        )
    return str(path.resolve())
