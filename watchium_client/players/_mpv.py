"""A `Player` that drives a real mpv over its JSON IPC (``--input-ipc-server``).

Protocol: one JSON object per line over a unix socket; commands carry a ``request_id`` that the
reply echoes; ``observe_property`` makes mpv push ``property-change`` events
(https://mpv.io/manual/stable/#json-ipc).

Position. mpv reports ``playback-time`` in steps (per video frame, or per audio chunk: ~200 ms
with ``--ao=null``), and each step is accurate when it is pushed. Polling it would see a staircase
up to one step stale, so the position is the last pushed value extrapolated at the playback speed
from the moment it arrived, which tracks the media clock to about a millisecond.

Who did it. mpv reports a pause, a seek or a speed change the same way whoever asked for it.
Changes this class requested are expected (by value, for a few seconds); any other change is
reported as an event, as an action of the user in mpv's own UI.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import shutil
import tempfile
import time
from collections import deque
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

__all__ = ["MpvNotFoundError", "MpvPlayer"]

logger = logging.getLogger(__name__)

_OBSERVED = ("pause", "playback-time", "speed", "paused-for-cache", "seeking", "eof-reached")
# How long a change this class asked for is expected to show up as a property change (mpv
# reports one within milliseconds).
_EXPECT_FOR = 1.0
_INSTALL_HINT = (
    "install it with `apt-get install mpv` (Debian, Ubuntu), `dnf install mpv` (Fedora), "
    "`brew install mpv` (macOS), or from https://mpv.io/installation/; or pass the path of the "
    "binary as mpv=..."
)


class MpvNotFoundError(PlayerError):
    """The mpv binary is not installed or not on PATH."""


def _is_url(media: str) -> bool:
    return "://" in media


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
        self._reader = reader
        self._writer = writer
        self._process = process
        self._workdir = workdir
        self._socket_path = socket_path
        self._request_timeout = request_timeout
        self._clock = clock
        self._hub: EventHub[PlayerEvent] = EventHub()
        self._next_id = 0
        self._replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._file_waiters: list[asyncio.Future[str | None]] = []
        self._closed = False
        self._close_reason = "the player is closed"
        # Property state as last pushed by mpv.
        self._paused = True
        self._speed = 1.0
        self._buffering = False
        self._seeking_prop = False
        self._eof = False
        self._seen: set[str] = set()
        # Position model: the last pushed playback-time and the local time it arrived.
        self._time_value: float | None = None
        self._time_at = 0.0
        # Changes this class requested whose property change has not arrived yet:
        # (request number, value, deadline), and the value mpv last reported.
        self._expect: dict[str, deque[tuple[int, Any, float]]] = {
            "pause": deque(),
            "speed": deque(),
        }
        self._reported: dict[str, Any] = {}
        self._request_seq = 0
        self._own_seek_pending = False
        self._user_seek = False
        self._file_loaded = False
        # Counts position pushes, to tell whether one came after a seek started.
        self._time_seq = 0
        self._seek_seq = 0
        self._reader_task = asyncio.create_task(self._read_loop(), name="watchium-mpv-ipc")

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
        binary = shutil.which(mpv)
        if binary is None:
            raise MpvNotFoundError(f"mpv not found ({mpv!r} is not on PATH): {_INSTALL_HINT}")
        if media is not None:
            media = _check_media(media)
        workdir = Path(tempfile.mkdtemp(prefix="watchium-mpv-"))
        socket_path = workdir / "ipc.sock"
        log_path = workdir / "mpv.log"
        args = [
            binary,
            "--idle=yes",
            f"--input-ipc-server={socket_path}",
            # Stay on the last frame at the end instead of unloading: the room may seek back.
            "--keep-open=yes",
            "--no-input-terminal",
            "--quiet",
            f"--pause={'yes' if start_paused else 'no'}",
        ]
        if not use_config:
            args.append("--no-config")
        if headless:
            args += ["--vo=null", "--ao=null", "--force-window=no"]
        args += list(extra_args)
        logger.debug("starting %s", " ".join(args))
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                *args, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log
            )
        try:
            reader, writer = await _connect_when_ready(socket_path, process, log_path, timeout)
        except BaseException:
            await _stop_process(process, grace=0.0)
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        player = cls(reader, writer, process=process, workdir=workdir, socket_path=socket_path)
        try:
            await player._observe()
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
        hint = f"start mpv with --input-ipc-server={path}"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_unix_connection(str(path)), max(0.01, deadline - loop.time())
                )
                break
            except (FileNotFoundError, ConnectionRefusedError) as exc:
                if loop.time() >= deadline:
                    what = (
                        "no mpv IPC socket"
                        if isinstance(exc, FileNotFoundError)
                        else ("nothing accepts connections")
                    )
                    raise PlayerError(f"{what} at {path} after {timeout:g} s: {hint}") from exc
                # mpv creates the socket a moment after it starts: retry briefly.
                await asyncio.sleep(0.02)
            except (OSError, TimeoutError) as exc:
                raise PlayerError(f"cannot connect to mpv at {path} ({exc}): {hint}") from exc
        player = cls(reader, writer, socket_path=path)
        try:
            await player._observe()
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
        return self._closed

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
        self._check_open()
        if self._time_value is None:
            value = await self.get_property("playback-time")
            if not isinstance(value, int | float):
                raise PlayerError("mpv has no playback position: no file is loaded")
            self._set_time(float(value))
        assert self._time_value is not None
        if self._moving():
            return self._time_value + (self._clock() - self._time_at) * self._speed
        return self._time_value

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
        try:
            await self.command("seek", seconds, "absolute+exact")
        except BaseException:
            self._own_seek_pending = False
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
        if self._process is not None and not self._closed:
            with contextlib.suppress(PlayerError, TimeoutError):
                await asyncio.wait_for(self._send(["quit"]), 2.0)
        self._shutdown("the player was closed")
        self._reader_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader_task
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()
        if self._process is not None:
            await _stop_process(self._process)
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
            error = await asyncio.wait_for(waiter, timeout)
        except TimeoutError as exc:
            raise PlayerError(f"mpv did not open {target} within {timeout:g} s") from exc
        finally:
            if waiter in self._file_waiters:
                self._file_waiters.remove(waiter)
        if error is not None:
            raise PlayerError(f"mpv could not open {target}: {error}")
        self._eof = False
        self._time_value = None

    async def get_property(self, name: str) -> Any:
        """Reads an mpv property (None when mpv says it is unavailable).

        Raises:
            PlayerError: mpv refused the request for another reason.
        """
        try:
            return await self.command("get_property", name)
        except PlayerError as exc:
            if "property unavailable" in str(exc):
                return None
            raise

    async def set_property(self, name: str, value: Any) -> None:
        """Sets an mpv property (as an action of this class: no event is reported for it)."""
        await self.command("set_property", name, value)

    async def command(self, *args: Any) -> Any:
        """Sends an mpv command and returns its ``data``.

        Raises:
            PlayerError: mpv answered with an error, or did not answer in time.
            PlayerClosedError: mpv is gone.
        """
        reply = await self._send(list(args))
        if reply.get("error") != "success":
            raise PlayerError(f"mpv {args[0]} failed: {reply.get('error')}")
        return reply.get("data")

    # ------------------------------------------------------------------ internals

    def _check_open(self) -> None:
        if self._closed:
            raise PlayerClosedError(f"mpv is not available: {self._close_reason}")

    async def _send(self, command: list[Any]) -> dict[str, Any]:
        self._check_open()
        self._next_id += 1
        request_id = self._next_id
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[request_id] = future
        line = json.dumps({"command": command, "request_id": request_id}) + "\n"
        try:
            self._writer.write(line.encode())
            await self._writer.drain()
            return await asyncio.wait_for(future, self._request_timeout)
        except TimeoutError as exc:
            raise PlayerError(
                f"mpv did not answer {command[0]!r} within {self._request_timeout:g} s"
            ) from exc
        except (ConnectionError, OSError) as exc:
            self._shutdown(f"the IPC connection failed ({exc})")
            raise PlayerClosedError(f"mpv is not available: {self._close_reason}") from exc
        finally:
            self._replies.pop(request_id, None)

    async def _observe(self) -> None:
        for index, name in enumerate(_OBSERVED, start=1):
            await self.command("observe_property", index, name)

    def _was_expected(self, name: str, value: Any) -> bool:
        # Called for each property change mpv reports, in the order it reports them.
        now = self._clock()
        queue = self._expect[name]
        while queue and queue[0][2] < now:
            queue.popleft()
        for index, (_, expected, _) in enumerate(queue):
            if _same(name, expected, value):
                # mpv may coalesce quick changes: a match also settles every earlier request.
                for _ in range(index + 1):
                    queue.popleft()
                return True
        # A value nobody here asked for supersedes whatever we asked for before it.
        queue.clear()
        return False

    async def _set_expected(self, name: str, value: Any) -> None:
        self._request_seq += 1
        token = self._request_seq
        queue = self._expect[name]
        queue.append((token, value, self._clock() + _EXPECT_FOR))
        try:
            await self.set_property(name, value)
        except BaseException:
            self._drop_expectations(name, through=token)
            raise
        # mpv writes replies and events in the order it makes them, so by now it has reported
        # every change an earlier request caused: those will never come. Neither will ours if
        # the value is what mpv last reported (set to the same value, or coalesced away).
        earlier = token - 1
        self._drop_expectations(name, through=earlier)
        if _same(name, self._reported.get(name), value):
            self._drop_expectations(name, through=token)
        # mpv has applied it: reflect it now rather than when the property change arrives,
        # so that the caller reads back what it just set.
        if name == "pause":
            self._apply_pause(bool(value))
        else:
            self._apply_speed(float(value))

    def _drop_expectations(self, name: str, *, through: int) -> None:
        queue = self._expect[name]
        self._expect[name] = deque(entry for entry in queue if entry[0] > through)

    def _apply_pause(self, paused: bool) -> None:
        if paused == self._paused:
            return
        self._rebase()
        self._paused = paused
        if self._time_value is not None:
            # The position held while paused is valid up to now: extrapolate from here.
            self._time_at = self._clock()

    def _apply_speed(self, speed: float) -> None:
        if speed == self._speed:
            return
        self._rebase()
        self._speed = speed

    def _moving(self) -> bool:
        return not (self._paused or self._buffering or self.is_seeking or self._eof)

    def _set_time(self, value: float) -> None:
        self._time_value = value
        self._time_at = self._clock()
        self._time_seq += 1

    def _rebase(self) -> None:
        # Fold the extrapolated advance into the anchor before the rate of advance changes.
        if self._time_value is not None and self._moving():
            now = self._clock()
            self._time_value += (now - self._time_at) * self._speed
            self._time_at = now

    def _publish(self, kind: PlayerEventKind, value: float | None = None) -> None:
        position = None
        if self._time_value is not None:
            position = self._time_value
        self._hub.publish(PlayerEvent(kind, at=self._clock(), position=position, value=value))

    async def _read_loop(self) -> None:
        reason = "mpv closed the IPC connection (it quit or crashed)"
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    break
                try:
                    message = json.loads(line)
                except json.JSONDecodeError:
                    logger.warning("mpv sent a line that is not JSON: %r", line[:200])
                    continue
                if not isinstance(message, dict):
                    continue
                if "event" in message:
                    self._on_event(message)
                elif "request_id" in message:
                    future = self._replies.get(message["request_id"])
                    if future is not None and not future.done():
                        future.set_result(message)
        except (ConnectionError, OSError) as exc:
            reason = f"the IPC connection failed ({exc})"
        except asyncio.CancelledError:
            return
        self._shutdown(reason)

    def _shutdown(self, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        self._close_reason = reason
        logger.debug("mpv player closed: %s", reason)
        error = PlayerClosedError(f"mpv is not available: {reason}")
        for future in self._replies.values():
            if not future.done():
                future.set_exception(error)
        for waiter in self._file_waiters:
            if not waiter.done():
                waiter.set_exception(error)
        self._hub.publish(PlayerEvent(PlayerEventKind.CLOSED, at=self._clock()))
        self._hub.close()

    def _on_event(self, message: dict[str, Any]) -> None:
        event = message["event"]
        if event == "property-change":
            self._on_property(str(message.get("name")), message.get("data"))
        elif event == "seek":
            if not self._own_seek_pending:
                self._user_seek = True
            self._seek_seq = self._time_seq
        elif event == "playback-restart":
            own = self._own_seek_pending
            self._own_seek_pending = False
            if self._time_value is not None and self._time_seq > self._seek_seq:
                # mpv pushed the new position during the seek; playback was halted, so it
                # holds until now.
                self._time_at = self._clock()
            else:
                # No new position yet: the next read asks mpv (right after a seek its answer
                # is exact) unless a push comes first.
                self._time_value = None
            if not own and self._user_seek:
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
            self._seek_seq = self._time_seq
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
        if name == "playback-time":
            if isinstance(data, int | float):
                self._set_time(float(data))
            else:
                self._time_value = None
        elif name == "pause":
            paused = bool(data)
            self._reported[name] = paused
            expected = self._was_expected("pause", paused)
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
            self._reported[name] = speed
            expected = self._was_expected("speed", speed)
            if _same("speed", speed, self._speed):
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
            if self._time_value is not None:
                self._time_at = self._clock()
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


def _same(name: str, a: Any, b: Any) -> bool:
    if name == "speed" and isinstance(a, int | float) and isinstance(b, int | float):
        # mpv's JSON carries 6 decimals.
        return abs(float(a) - float(b)) < 2e-6
    return bool(a == b)


def _check_media(media: str | os.PathLike[str]) -> str:
    text = os.fspath(media)
    if _is_url(text):
        return text
    path = Path(text).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"media file not found: {path} (check the path, or pass an http(s) URL)"
        )
    return str(path.resolve())


async def _connect_when_ready(
    socket_path: Path,
    process: asyncio.subprocess.Process,
    log_path: Path,
    timeout: float,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last_error: Exception | None = None
    while loop.time() < deadline:
        if process.returncode is not None:
            raise PlayerError(
                f"mpv exited with code {process.returncode} before opening its IPC socket: "
                f"{_log_tail(log_path) or 'no output'}"
            )
        if socket_path.exists():
            try:
                return await asyncio.open_unix_connection(str(socket_path))
            except OSError as exc:  # created but not listening yet
                last_error = exc
        # The socket appears within tens of ms of mpv starting; poll briefly rather than
        # depend on mpv's output format.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), 0.02)
    detail = f" (last error: {last_error})" if last_error else ""
    raise PlayerError(
        f"mpv did not open its IPC socket at {socket_path} within {timeout:g} s{detail}: "
        f"{_log_tail(log_path) or 'no output'}"
    )


def _log_tail(path: Path, limit: int = 800) -> str:
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        return ""
    return text[-limit:]


async def _stop_process(process: asyncio.subprocess.Process, grace: float = 3.0) -> None:
    if process.returncode is not None:
        return
    if grace > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), grace)
            return
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(process.wait(), 3.0)
        return
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    await process.wait()
