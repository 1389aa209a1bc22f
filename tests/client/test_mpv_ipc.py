"""The mpv process and its JSON IPC connection on their own, without MpvPlayer, against a real
headless mpv: starting it and what its failures say, replies matched to requests, mpv's errors,
observed properties and events in order, a late reply, and mpv going away."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.client._mpv import TIMEOUT, RawClient, requires_mpv, write_clip
from watchium_client.players import PlayerClosedError, PlayerError
from watchium_client.players.mpv._ipc import MpvConnection
from watchium_client.players.mpv._process import (
    MpvProcess,
    find_mpv,
    open_ipc_socket,
    start_mpv,
)

pytestmark = [pytest.mark.mpv, requires_mpv]


class Recorder:
    """The listeners of a connection: everything it handed on, in order."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.properties: list[tuple[str, Any]] = []
        self.closed: list[str] = []
        self._changed = asyncio.Event()

    def on_event(self, name: str, message: dict[str, Any]) -> None:
        self.events.append(name)
        self._changed.set()

    def on_property(self, name: str, value: Any) -> None:
        self.properties.append((name, value))
        self._changed.set()

    def on_closed(self, reason: str) -> None:
        self.closed.append(reason)
        self._changed.set()

    def connect(
        self, streams: tuple[asyncio.StreamReader, asyncio.StreamWriter], timeout: float = 5.0
    ) -> MpvConnection:
        reader, writer = streams
        return MpvConnection(
            reader,
            writer,
            on_event=self.on_event,
            on_property=self.on_property,
            on_closed=self.on_closed,
            request_timeout=timeout,
        )

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(TIMEOUT):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clip(tmp_path_factory.mktemp("media") / "clip.wav", 5.0)


async def start() -> MpvProcess:
    return await start_mpv(
        find_mpv("mpv"), headless=True, start_paused=True, use_config=False, extra_args=()
    )


@pytest.fixture
async def mpv() -> AsyncIterator[MpvProcess]:
    started = await start()
    try:
        yield started
    finally:
        with contextlib.suppress(ProcessLookupError):  # mpv may be gone already
            os.kill(started.process.pid, signal.SIGCONT)  # in case a test left it stopped
        await started.discard()


# ---------------------------------------------------------------------- the process


async def test_a_started_mpv_accepts_on_its_socket_and_is_discarded_whole(
    mpv: MpvProcess,
) -> None:
    reader, writer = await mpv.connect(TIMEOUT)
    writer.close()
    await writer.wait_closed()
    assert mpv.socket_path.parent == mpv.workdir and mpv.workdir.is_dir()
    await mpv.discard()
    assert mpv.process.returncode is not None
    assert not mpv.workdir.exists()


async def test_mpv_exiting_at_start_says_why() -> None:
    started = await start_mpv(
        find_mpv("mpv"),
        headless=True,
        start_paused=True,
        use_config=False,
        extra_args=["--no-such-option"],
    )
    try:
        with pytest.raises(PlayerError, match="exited with code .*no-such-option"):
            await started.connect(TIMEOUT)
    finally:
        await started.discard()


async def test_a_socket_nobody_accepts_on(tmp_path: Path) -> None:
    path = tmp_path / "dead.sock"
    with socket.socket(socket.AF_UNIX) as bound:  # bound, never listening
        bound.bind(str(path))
        with pytest.raises(PlayerError, match="nothing accepts connections .*--input-ipc-server"):
            await open_ipc_socket(path, 0.1)


# ---------------------------------------------------------------------- the connection


async def test_replies_are_matched_to_their_requests(mpv: MpvProcess) -> None:
    recorder = Recorder()
    connection = recorder.connect(await mpv.connect(TIMEOUT))
    try:
        names = ["pause", "speed", "idle-active", "mpv-version", "volume"]
        alone = {name: await connection.get_property(name) for name in names}
        assert alone["pause"] is True and alone["speed"] == 1.0 and alone["idle-active"] is True
        # Many requests in flight at once: each caller gets the answer to its own.
        together = await asyncio.gather(*(connection.get_property(name) for name in names * 5))
        assert together == [alone[name] for name in names * 5]
    finally:
        await connection.close("the test is over")
    assert recorder.closed == ["the test is over"]


async def test_mpv_errors_become_player_errors(mpv: MpvProcess) -> None:
    recorder = Recorder()
    connection = recorder.connect(await mpv.connect(TIMEOUT))
    try:
        with pytest.raises(PlayerError, match="mpv get_property failed: property not found"):
            await connection.get_property("no-such-property")
        with pytest.raises(PlayerError, match="mpv no-such-command failed"):
            await connection.command("no-such-command")
        # No file loaded: the position is unavailable, which is an answer, not an error.
        assert await connection.get_property("playback-time") is None
        reply = await connection.request(["get_property", "no-such-property"])
        assert reply["error"] == "property not found"
        assert not connection.closed
    finally:
        await connection.close("the test is over")


async def test_observed_properties_and_events_arrive_in_order(mpv: MpvProcess, clip: Path) -> None:
    recorder = Recorder()
    connection = recorder.connect(await mpv.connect(TIMEOUT))
    remote = await RawClient.connect(mpv.socket_path)
    try:
        await connection.observe("pause", "speed")
        # mpv reports each property once when it is first observed.
        await recorder.wait_for(lambda: len(recorder.properties) >= 2)
        assert recorder.properties[:2] == [("pause", True), ("speed", 1.0)]
        # A change from another client is reported too: to mpv it is the same change.
        await remote.command("set_property", "speed", 1.5)
        await recorder.wait_for(lambda: ("speed", 1.5) in recorder.properties)
        await connection.command("loadfile", str(clip), "replace")
        await recorder.wait_for(lambda: "playback-restart" in recorder.events)
        opened = [e for e in recorder.events if e in ("start-file", "file-loaded")]
        assert opened == ["start-file", "file-loaded"]
        assert recorder.events.index("file-loaded") < recorder.events.index("playback-restart")
        assert "property-change" not in recorder.events  # those go to on_property
    finally:
        await remote.close()
        await connection.close("the test is over")


async def test_a_reply_too_late_is_dropped_and_the_connection_goes_on(mpv: MpvProcess) -> None:
    recorder = Recorder()
    connection = recorder.connect(await mpv.connect(TIMEOUT), timeout=0.3)
    try:
        os.kill(mpv.process.pid, signal.SIGSTOP)  # mpv cannot answer while stopped
        try:
            with pytest.raises(PlayerError, match="mpv did not answer 'get_property' within"):
                await connection.get_property("speed")
        finally:
            os.kill(mpv.process.pid, signal.SIGCONT)
        # The late reply (speed: 1.0) must not be taken for the answer to this request.
        assert await connection.get_property("pause") is True
        assert not connection.closed and recorder.closed == []
    finally:
        await connection.close("the test is over")


async def test_mpv_going_away_fails_what_is_in_flight_and_all_after(mpv: MpvProcess) -> None:
    recorder = Recorder()
    connection = recorder.connect(await mpv.connect(TIMEOUT), timeout=TIMEOUT)
    os.kill(mpv.process.pid, signal.SIGSTOP)
    in_flight = asyncio.create_task(connection.get_property("pause"))
    await asyncio.sleep(0)  # let it send the request
    mpv.process.kill()
    # mpv's end of the socket closes, or resets if our request was still unread: either way
    # the reason is the one every later call gives.
    with pytest.raises(PlayerClosedError, match="mpv is not available: ") as failed:
        await in_flight
    [reason] = recorder.closed
    assert reason in str(failed.value) and reason == connection.close_reason
    assert "closed the IPC connection" in reason or "connection failed" in reason
    assert connection.closed
    with pytest.raises(PlayerClosedError, match=re.escape(reason)):
        await connection.command("get_property", "pause")
    with pytest.raises(PlayerClosedError):
        connection.check_open()
    await connection.close("the test is over")
    assert len(recorder.closed) == 1  # on_closed is called once
