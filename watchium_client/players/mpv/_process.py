"""The mpv process: finding the binary, starting it with an IPC socket of its own, waiting for
the socket, and stopping it.

`start_mpv` runs mpv idle (``--idle=yes``, so it waits for a file) in a private temporary
directory that holds its socket and its output; when mpv exits before its socket accepts, or the
socket does not appear in time, the error carries the end of that output, which says why (a bad
option, no audio device...). `open_ipc_socket` is the same wait for an mpv someone else started.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from watchium_client.players._protocol import PlayerError

__all__ = [
    "MpvNotFoundError",
    "MpvProcess",
    "find_mpv",
    "log_tail",
    "open_ipc_socket",
    "start_mpv",
    "stop_process",
]

logger = logging.getLogger(__name__)

_INSTALL_HINT = (
    "install it with `apt-get install mpv` (Debian, Ubuntu), `dnf install mpv` (Fedora), "
    "`brew install mpv` (macOS), or from https://mpv.io/installation/; or pass the path of the "
    "binary as mpv=..."
)

_Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class MpvNotFoundError(PlayerError):
    """The mpv binary is not installed or not on PATH."""


def find_mpv(mpv: str) -> str:
    """The path of the mpv binary ``mpv`` (a name on PATH or a path).

    Raises:
        MpvNotFoundError: there is none (the message says how to install it).
    """
    binary = shutil.which(mpv)
    if binary is None:
        raise MpvNotFoundError(f"mpv not found ({mpv!r} is not on PATH): {_INSTALL_HINT}")
    return binary


@dataclass(frozen=True, slots=True)
class MpvProcess:
    """An mpv started by `start_mpv`, with its socket and its output in ``workdir``."""

    process: asyncio.subprocess.Process
    workdir: Path

    @property
    def socket_path(self) -> Path:
        return self.workdir / "ipc.sock"

    @property
    def log_path(self) -> Path:
        """mpv's stdout and stderr."""
        return self.workdir / "mpv.log"

    async def connect(self, timeout: float) -> _Streams:
        """Connects to the socket as soon as mpv accepts on it.

        Raises:
            PlayerError: mpv exited first, or the socket did not accept within ``timeout``
                seconds (with the end of mpv's output).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last_error: Exception | None = None
        while loop.time() < deadline:
            if self.process.returncode is not None:
                raise PlayerError(
                    f"mpv exited with code {self.process.returncode} before opening its IPC "
                    f"socket: {log_tail(self.log_path) or 'no output'}"
                )
            if self.socket_path.exists():
                try:
                    return await asyncio.open_unix_connection(str(self.socket_path))
                except OSError as exc:  # created but not listening yet
                    last_error = exc
            # The socket appears within tens of ms of mpv starting; poll briefly rather than
            # depend on mpv's output format.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.02):
                    await self.process.wait()
        detail = f" (last error: {last_error})" if last_error else ""
        raise PlayerError(
            f"mpv did not open its IPC socket at {self.socket_path} within {timeout:g} s"
            f"{detail}: {log_tail(self.log_path) or 'no output'}"
        )

    async def discard(self) -> None:
        """Kills mpv at once and removes its directory (after a failed start)."""
        await stop_process(self.process, grace=0.0)
        shutil.rmtree(self.workdir, ignore_errors=True)


async def start_mpv(
    binary: str,
    *,
    headless: bool,
    start_paused: bool,
    use_config: bool,
    extra_args: Sequence[str],
) -> MpvProcess:
    """Starts ``binary`` idle, with an IPC socket in a new temporary directory."""
    workdir = Path(tempfile.mkdtemp(prefix="watchium-mpv-"))
    socket_path = workdir / "ipc.sock"
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
    with (workdir / "mpv.log").open("wb") as log:
        # A session of its own: Ctrl-C in the terminal goes to the program driving mpv, which
        # leaves the room and then quits mpv, instead of mpv vanishing under it.
        process = await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    return MpvProcess(process, workdir)


async def open_ipc_socket(path: Path, timeout: float) -> _Streams:
    """Connects to the IPC socket of an mpv started elsewhere, waiting up to ``timeout`` seconds
    for it to accept (mpv may still be starting).

    Raises:
        PlayerError: nothing accepted at ``path`` in time (the message says how to start mpv).
    """
    hint = f"start mpv with --input-ipc-server={path}"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            async with asyncio.timeout(max(0.01, deadline - loop.time())):
                return await asyncio.open_unix_connection(str(path))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            if loop.time() >= deadline:
                what = (
                    "no mpv IPC socket"
                    if isinstance(exc, FileNotFoundError)
                    else "nothing accepts connections"
                )
                raise PlayerError(f"{what} at {path} after {timeout:g} s: {hint}") from exc
            # mpv creates the socket a moment after it starts: retry briefly.
            await asyncio.sleep(0.02)
        except (OSError, TimeoutError) as exc:
            raise PlayerError(f"cannot connect to mpv at {path} ({exc}): {hint}") from exc


def log_tail(path: Path, limit: int = 800) -> str:
    """The last ``limit`` characters of mpv's output ("" when there is none)."""
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        return ""
    return text[-limit:]


async def stop_process(process: asyncio.subprocess.Process, grace: float = 3.0) -> None:
    """Waits ``grace`` seconds for mpv to exit (after ``quit``), then terminates it, then kills
    it."""
    if process.returncode is not None:
        return
    if grace > 0:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await process.wait()
            return
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(3.0):
            await process.wait()
        return
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    await process.wait()
