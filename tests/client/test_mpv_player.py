"""MpvPlayer against a real headless mpv, on a clip the tests write themselves.

Actions "in mpv's own UI" are made from a second IPC client on the same socket (`RawClient`):
to mpv that is the same as a key press, and the player must report it as the user's.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.client._mpv import (
    TIMEOUT,
    RawClient,
    requires_ffmpeg,
    requires_mpv,
    write_clip,
    write_video,
)
from watchium_client.players import (
    MpvNotFoundError,
    MpvPlayer,
    Player,
    PlayerClosedError,
    PlayerError,
    PlayerEvent,
    PlayerEventKind,
)
from watchium_client.sync._clock import ClockSync
from watchium_client.sync._engine import SyncEngine
from watchium_client.sync._playback import PlaybackState
from watchium_client.sync._policy import SyncPhase


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clip(tmp_path_factory.mktemp("media") / "clip.wav", 40.0)


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clip(tmp_path_factory.mktemp("media") / "short.wav", 1.0)


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed (apt-get install ffmpeg)")
    return write_video(tmp_path_factory.mktemp("media") / "video.mkv", 30.0)


@pytest.fixture
async def player(clip: Path) -> AsyncIterator[MpvPlayer]:
    mpv = await MpvPlayer.launch(clip, headless=True, use_config=False)
    try:
        yield mpv
    finally:
        await mpv.close()


async def wait_until(predicate: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    # The player publishes no event when a seek lands or a command takes effect: look every
    # few ms.
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def wait_position(player: MpvPlayer, predicate: Callable[[float], bool]) -> float:
    async with asyncio.timeout(TIMEOUT):
        while True:
            position = await player.position()
            if predicate(position):
                return position
            await asyncio.sleep(0.02)


async def next_event(events: AsyncIterator[PlayerEvent]) -> PlayerEvent:
    async with asyncio.timeout(TIMEOUT):
        return await anext(events)


async def rate_over(player: MpvPlayer, seconds: float) -> float:
    p0, t0 = await player.position(), time.monotonic()
    await asyncio.sleep(seconds)  # measuring a rate needs an interval of real time
    p1, t1 = await player.position(), time.monotonic()
    return (p1 - p0) / (t1 - t0)


# ---------------------------------------------------------------------- errors (no mpv needed)


async def test_missing_binary_says_how_to_install_it() -> None:
    with pytest.raises(MpvNotFoundError, match="apt-get install mpv"):
        await MpvPlayer.launch(mpv="/nonexistent/bin/mpv")


async def test_attach_without_a_socket_says_how_to_start_mpv(tmp_path: Path) -> None:
    with pytest.raises(PlayerError, match="no mpv IPC socket .*--input-ipc-server="):
        await MpvPlayer.attach(tmp_path / "nothing.sock", timeout=0.1)


# ---------------------------------------------------------------------- a real mpv


@pytest.mark.mpv
@requires_mpv
async def test_launch_loads_the_clip_paused(player: MpvPlayer) -> None:
    assert isinstance(player, Player)
    assert not player.is_playing
    assert await player.position() == pytest.approx(0.0, abs=0.01)
    assert player.speed == 1.0
    assert not player.is_buffering and not player.is_seeking
    assert player.socket_path is not None and player.socket_path.exists()
    assert await player.get_property("duration") == pytest.approx(40.0, abs=0.01)


@pytest.mark.mpv
@requires_mpv
async def test_missing_file_is_reported_before_starting_mpv(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="media file not found"):
        await MpvPlayer.launch(tmp_path / "missing.mkv", headless=True)


@pytest.mark.mpv
@requires_mpv
async def test_unplayable_file_is_reported(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.wav"
    bogus.write_text("this is not audio")
    with pytest.raises(PlayerError, match="could not open"):
        await MpvPlayer.launch(bogus, headless=True, use_config=False)


@pytest.mark.mpv
@requires_mpv
async def test_play_advances_with_the_media_clock_and_pause_stops(player: MpvPlayer) -> None:
    await player.play()
    assert player.is_playing
    await wait_position(player, lambda p: p > 0.5)
    assert await rate_over(player, 1.0) == pytest.approx(1.0, abs=0.05)
    await player.pause()
    assert not player.is_playing
    assert await player.get_property("pause") is True
    stopped = await player.position()
    await asyncio.sleep(0.3)  # a paused player must not move: give it time to
    assert await player.position() == pytest.approx(stopped, abs=0.002)


@pytest.mark.mpv
@requires_mpv
async def test_seek_lands_exactly(player: MpvPlayer) -> None:
    await player.seek(12.5)
    # The seek may already have landed here (mpv is fast on a local file): wait for it either way.
    await wait_until(lambda: not player.is_seeking)
    assert await player.position() == pytest.approx(12.5, abs=0.005)
    assert await player.get_property("playback-time") == pytest.approx(12.5, abs=0.005)
    await player.play()
    await wait_position(player, lambda p: p > 12.8)
    with pytest.raises(ValueError):
        await player.seek(-1.0)


@pytest.mark.mpv
@requires_mpv
async def test_speed_change(player: MpvPlayer) -> None:
    await player.play()
    await player.set_speed(1.5)
    await wait_until(lambda: player.speed == 1.5)
    assert await player.get_property("speed") == 1.5
    await asyncio.sleep(0.5)  # let the audio buffered at the old speed play out
    assert await rate_over(player, 1.0) == pytest.approx(1.5, abs=0.1)
    with pytest.raises(ValueError):
        await player.set_speed(0.0)


@pytest.mark.mpv
@requires_mpv
async def test_actions_in_mpv_are_reported_and_own_commands_are_not(player: MpvPlayer) -> None:
    assert player.socket_path is not None
    events = player.events()
    remote = await RawClient.connect(player.socket_path)
    try:
        # Our own commands: no events.
        await player.play()
        await player.pause()
        await player.set_speed(1.0123456789)  # more decimals than mpv reports back
        assert player.speed == pytest.approx(1.0123456789, abs=1e-6)
        # Someone else's: one event each, in order.
        await remote.command("set_property", "pause", False)
        event = await next_event(events)
        assert event.kind is PlayerEventKind.PLAYING and event.is_user_action
        await remote.command("set_property", "pause", True)
        assert (await next_event(events)).kind is PlayerEventKind.PAUSED
        assert not player.is_playing
        await remote.command("seek", 20, "absolute")
        event = await next_event(events)
        assert event.kind is PlayerEventKind.SEEKED
        assert await player.position() == pytest.approx(20.0, abs=0.5)  # a keyframe seek
        await remote.command("set_property", "speed", 0.8)
        event = await next_event(events)
        assert event.kind is PlayerEventKind.SPEED_CHANGED and event.value == 0.8
        assert player.speed == 0.8
        # Our own seek after all that: still no event (the next one is the remote's pause).
        await player.seek(5.0)
        await wait_until(lambda: not player.is_seeking)
        await remote.command("set_property", "pause", False)
        assert (await next_event(events)).kind is PlayerEventKind.PLAYING
    finally:
        await remote.close()


@pytest.mark.mpv
@requires_mpv
async def test_end_of_file(short_clip: Path) -> None:
    async with await MpvPlayer.launch(short_clip, headless=True, use_config=False) as mpv:
        events = mpv.events()
        await mpv.play()
        assert (await next_event(events)).kind is PlayerEventKind.END_OF_FILE
        # keep-open pauses at the end by itself: that is not reported as the user's pause;
        # the next event is the seek below.
        assert mpv.socket_path is not None
        remote = await RawClient.connect(mpv.socket_path)
        try:
            await remote.command("seek", 0, "absolute")
            assert (await next_event(events)).kind is PlayerEventKind.SEEKED
        finally:
            await remote.close()


@pytest.mark.mpv
@requires_mpv
async def test_closed_when_mpv_quits(player: MpvPlayer) -> None:
    assert player.socket_path is not None
    events = player.events()
    remote = await RawClient.connect(player.socket_path)
    try:
        await remote.command("quit")
    except ConnectionError:
        pass  # mpv may close before it answers
    finally:
        await remote.close()
    assert (await next_event(events)).kind is PlayerEventKind.CLOSED
    assert player.is_closed
    with pytest.raises(PlayerClosedError):
        await player.play()
    with pytest.raises(PlayerClosedError):
        await player.position()


@pytest.mark.mpv
@requires_mpv
async def test_attach_to_a_running_mpv(clip: Path, tmp_path: Path) -> None:
    socket_path = tmp_path / "mpv.sock"
    process = await asyncio.create_subprocess_exec(
        "mpv",
        "--no-config",
        "--idle=yes",
        "--vo=null",
        "--ao=null",
        "--pause=yes",
        "--keep-open=yes",
        "--no-input-terminal",
        f"--input-ipc-server={socket_path}",
        str(clip),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        mpv = await MpvPlayer.attach(socket_path, timeout=TIMEOUT)
        try:
            # The clip is still loading: its duration comes first, then its first frame (and
            # with it a position).
            while await mpv.get_property("playback-time") is None:
                await asyncio.sleep(0.02)
            await mpv.play()
            await wait_position(mpv, lambda p: p > 0.3)
        finally:
            await mpv.close()
        assert process.returncode is None  # attach does not own the process
        again = await MpvPlayer.attach(socket_path)
        await again.close()
    finally:
        process.terminate()
        async with asyncio.timeout(TIMEOUT):
            await process.wait()


@pytest.mark.mpv
@requires_mpv
async def test_load_replaces_the_file(player: MpvPlayer, short_clip: Path) -> None:
    await player.seek(10.0)
    await wait_until(lambda: not player.is_seeking)
    await player.load(short_clip)
    assert await player.get_property("duration") == pytest.approx(1.0, abs=0.01)
    assert await player.position() == pytest.approx(0.0, abs=0.01)
    with pytest.raises(FileNotFoundError):
        await player.load(short_clip.with_name("nope.wav"))


@pytest.mark.mpv
@requires_mpv
async def test_sync_engine_keeps_mpv_with_the_room(player: MpvPlayer) -> None:
    clock = ClockSync()
    now = clock.local_now()
    clock.add_sample(now, now - 0.75, now)  # the server is 0.75 s behind this machine
    engine = SyncEngine(player, clock)

    def synced() -> bool:
        drift = engine.drift
        return engine.phase is SyncPhase.IN_SYNC and drift is not None and abs(drift) < 0.03

    engine.update_room(
        PlaybackState(room_id="r", position=5.0, is_playing=True, updated_at=clock.server_now())
    )
    engine.start()
    try:
        await wait_until(synced)
        # The host seeks.
        engine.update_room(
            PlaybackState(
                room_id="r", position=25.0, is_playing=True, updated_at=clock.server_now()
            )
        )
        await wait_until(lambda: engine.phase is not SyncPhase.IN_SYNC)
        await wait_until(synced)
        assert await player.position() == pytest.approx(25.0, abs=5.0)
        # The host pauses.
        engine.update_room(
            PlaybackState(
                room_id="r", position=27.0, is_playing=False, updated_at=clock.server_now()
            )
        )
        await wait_position(player, lambda p: abs(p - 27.0) < 0.005)
        await wait_until(lambda: not player.is_seeking)
        assert not player.is_playing and engine.phase is SyncPhase.PAUSED
        assert await player.position() == pytest.approx(27.0, abs=0.005)
        assert engine.stats().steady_seeks == 0
    finally:
        await engine.stop()


async def audio_clock(remote: RawClient) -> float:
    reply = await remote.command("get_property", "audio-pts")
    assert isinstance(reply.get("data"), float), reply
    return float(reply["data"])


@pytest.mark.mpv
@requires_mpv
@requires_ffmpeg
@pytest.mark.parametrize("media", ["clip", "video"])
async def test_paused_after_a_seek_the_position_is_where_playback_resumes(
    media: str, request: pytest.FixtureRequest
) -> None:
    # mpv's clocks lag while paused after a seek (by the audio it has prepared, or a frame
    # early): the position must be where playback will resume, which the audio clock shows
    # once it plays.
    path: Path = request.getfixturevalue(media)
    async with await MpvPlayer.launch(path, headless=True, use_config=False) as mpv:
        assert mpv.socket_path is not None
        remote = await RawClient.connect(mpv.socket_path)
        try:
            await mpv.play()
            await wait_position(mpv, lambda p: p > 0.5)
            await mpv.pause()
            for target in (12.5, 21.37):
                await mpv.seek(target)
                await wait_until(lambda: not mpv.is_seeking)
                resumes_at = await mpv.position()
                assert resumes_at == pytest.approx(target, abs=0.11)  # a frame at 10 fps
                await mpv.play()
                await wait_position(mpv, lambda p, start=resumes_at: p > start + 0.3)
                # Read together: the player's position and mpv's audio clock agree.
                assert await mpv.position() == pytest.approx(await audio_clock(remote), abs=0.02)
                await mpv.pause()
        finally:
            await remote.close()


@pytest.mark.mpv
@requires_mpv
@requires_ffmpeg
async def test_a_keyframe_seek_in_mpv_reports_where_it_landed(video: Path) -> None:
    async with await MpvPlayer.launch(video, headless=True, use_config=False) as mpv:
        assert mpv.socket_path is not None
        events = mpv.events()
        remote = await RawClient.connect(mpv.socket_path)
        try:
            await mpv.play()
            await wait_position(mpv, lambda p: p > 0.3)
            # The arrow keys: relative, to a keyframe (every 2.5 s in this clip).
            await remote.command("seek", 6, "relative")
            event = await next_event(events)
            assert event.kind is PlayerEventKind.SEEKED and event.position is None
            landed = await mpv.position()
            keyframe = round(landed / 2.5) * 2.5
            assert landed == pytest.approx(keyframe, abs=0.2)
            assert abs(landed - 6.3) > 0.5, "the target, not where it landed"
            await wait_position(mpv, lambda p: p > landed + 0.3)
            assert await mpv.position() == pytest.approx(await audio_clock(remote), abs=0.02)
        finally:
            await remote.close()
