"""WatchiumClient against the real gateway: typed answers, typed errors, clock samples."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import pytest

from tests._stack import Stack
from watchium_client import (
    ConnectionFailed,
    InvalidInput,
    NotHost,
    NotMember,
    RateLimited,
    RoomNotFound,
    RoomsCreateResult,
    RoomSession,
    RoomSnapshot,
    SignInRequired,
    WatchiumClient,
    WatchiumError,
    error_from_response,
)
from watchium_client._api import invite_room_id, key_role
from watchium_wire.errors import CATALOGUE

VIDEO = "https://example.com/frieren/01.mkv"
T = TypeVar("T")


@pytest.fixture
async def host(stack: Stack) -> AsyncIterator[WatchiumClient]:
    client = await WatchiumClient.connect(stack.url, stack.publishable_key)
    yield client
    await client.close()


@pytest.fixture
async def viewer(stack: Stack) -> AsyncIterator[WatchiumClient]:
    # The legacy anon key: a client of either kind of key, in the same rooms.
    client = await WatchiumClient.connect(stack.url, stack.anon_key)
    yield client
    await client.close()


async def honouring_limits(call: Callable[[], Awaitable[T]]) -> T:
    """Run a host control, waiting out the 2-per-second limit as a real host must."""
    try:
        return await call()
    except RateLimited as limited:
        await asyncio.sleep(limited.retry_after)
        return await call()


async def new_room(client: WatchiumClient, *, public: bool = True) -> RoomsCreateResult:
    return await client.create_room(
        title="Frieren night",
        anime_id="frieren",
        anime_title="Frieren",
        video_url=VIDEO,
        username="host",
        is_public=public,
    )


async def test_connect_signs_in_anonymously(host: WatchiumClient, viewer: WatchiumClient) -> None:
    host_id, viewer_id = await host.user_id(), await viewer.user_id()
    assert host_id and viewer_id and host_id != viewer_id


async def test_a_whole_party_through_typed_calls(
    host: WatchiumClient, viewer: WatchiumClient
) -> None:
    created = await new_room(host)
    room_id = created.room.room_id
    assert created.member.is_host and created.access_key is None
    assert created.realtime.channel == f"room:{room_id}" and created.realtime.private
    assert {b.table for b in created.realtime.postgres_changes} == {
        "rooms",
        "room_members",
        "comments",
        "comment_reaction_counts",
        "room_queue",
        "ready_checks",
    }

    joined = await viewer.join_room(room_id, username="viewer")
    assert not joined.rejoined and not joined.member.is_host

    state = await honouring_limits(lambda: host.seek(room_id, 42.5))
    assert isinstance(state, RoomSnapshot) and state.current_playback_time == 42.5
    assert (await honouring_limits(lambda: host.play(room_id))).is_playing
    assert (await honouring_limits(lambda: host.set_speed(room_id, 1.5))).playback_speed == 1.5
    live = await viewer.host_time(room_id)
    assert live.is_playing and live.live_position >= 42.5

    status = await viewer.update_status(room_id, current_time=live.live_position)
    assert status.member.user_id == await viewer.user_id()
    members = await viewer.members(room_id)
    assert members.member_count == 2 and {m.username for m in members.members} == {"host", "viewer"}

    comment = await viewer.post_comment(
        anime_id="frieren",
        episode_number=1,
        message="so good",
        username="viewer",
        room_id=room_id,
        video_timestamp=12.5,
    )
    page = await host.comments(anime_id="frieren", episode_number=1, room_id=room_id)
    assert [c.id for c in page.comments] == [comment.id] and page.anchor is not None
    history = await host.comment_history(room_id=room_id, hours=1)
    assert history.total == 1

    listed = await viewer.list_public_rooms(anime_id="frieren", limit=100)
    assert room_id in {r.room_id for r in listed.rooms}

    left = await host.leave_room(room_id)
    assert left.was_host and left.host_user_id == await viewer.user_id()
    assert (await viewer.delete_room(room_id)).deleted


@pytest.mark.usefixtures("fresh_address")
async def test_invites_and_key_rotation(
    stack: Stack, host: WatchiumClient, viewer: WatchiumClient
) -> None:
    created = await new_room(host, public=False)
    room_id = created.room.room_id
    invite = await host.create_invite(room_id, ttl_seconds=600)
    assert invite_room_id(invite.invite_token) == room_id and invite.room_id == room_id
    joined = await viewer.join_with_invite(invite.invite_token, username="v")
    assert joined.member.user_id == await viewer.user_id()
    with pytest.raises(NotHost):
        await viewer.rotate_access_key(room_id)
    rotated = await host.rotate_access_key(room_id)
    assert rotated.access_key != created.access_key
    async with await WatchiumClient.connect(stack.url, stack.publishable_key) as late:
        with pytest.raises(RoomNotFound):
            await late.join_with_invite(invite.invite_token, username="late")
        await late.join_room(room_id, username="late", access_key=rotated.access_key)


@pytest.mark.usefixtures("fresh_address")
async def test_refusals_are_typed_exceptions(host: WatchiumClient, viewer: WatchiumClient) -> None:
    created = await new_room(host, public=False)
    room_id = created.room.room_id
    assert created.access_key and re.fullmatch(r"[0-9]{6}", created.access_key)
    # A wrong key is answered as a missing room: private rooms cannot be probed.
    with pytest.raises(RoomNotFound) as wrong:
        await viewer.join_room(
            room_id,
            username="v",
            access_key="000000" if created.access_key != "000000" else "000001",
        )
    assert wrong.value.code == "WR404" and wrong.value.status == 404
    with pytest.raises(RoomNotFound):
        await viewer.host_time(room_id)
    await viewer.join_room(room_id, username="v", access_key=created.access_key)
    with pytest.raises(NotHost) as not_host:
        await viewer.pause(room_id)
    assert "host" in str(not_host.value)
    await viewer.leave_room(room_id)
    with pytest.raises(RoomNotFound):
        await viewer.update_status(room_id, current_time=1)
    public = await new_room(host)
    with pytest.raises(NotMember):
        await viewer.update_status(public.room.room_id, current_time=1)
    with pytest.raises(InvalidInput) as invalid:
        await host.set_speed(public.room.room_id, 9)
    assert invalid.value.details.get("fields")


async def test_rate_limits_say_when_to_retry(host: WatchiumClient) -> None:
    room_id = (await new_room(host)).room.room_id
    with pytest.raises(RateLimited) as limited:
        for position in range(5):
            await host.seek(room_id, position)
    assert 0 < limited.value.retry_after <= 1


@pytest.mark.parametrize("key", ["publishable", "anon"])
async def test_unauthenticated_calls_are_told_to_sign_in(stack: Stack, key: str) -> None:
    value = stack.publishable_key if key == "publishable" else stack.anon_key
    anonymous = await WatchiumClient.connect(stack.url, value, sign_in=False)
    try:
        assert await anonymous.user_id() is None
        await anonymous.list_public_rooms()  # reads need no user
        with pytest.raises(SignInRequired) as info:
            await new_room(anonymous)
        assert info.value.status == 401
    finally:
        await anonymous.close()


async def test_no_server_is_a_connection_failure() -> None:
    with pytest.raises(ConnectionFailed):
        await WatchiumClient.connect("http://127.0.0.1:9", "key")


async def test_every_call_is_a_clock_sample(host: WatchiumClient) -> None:
    assert not host.clock.has_samples
    room_id = (await new_room(host)).room.room_id
    for _ in range(3):
        await host.host_time(room_id)
    assert len(host.clock.samples) == 4
    # Same machine, same clock: the offset is within the round trip's uncertainty.
    assert abs(host.clock.offset) <= host.clock.error_bound + 0.005


def test_every_catalogue_code_raises_its_sdk_class() -> None:
    for entry in CATALOGUE:
        err = error_from_response(entry.status, {"code": entry.code, "message": "m"})
        assert type(err).__name__ == entry.name and err.code == entry.code


def test_unknown_codes_fall_back_on_the_status() -> None:
    err = error_from_response(
        429, {"code": "WRZ99", "message": "slow down", "details": {"retry_after": 2.5}}
    )
    assert isinstance(err, RateLimited) and err.code == "WRZ99" and err.retry_after == 2.5
    assert type(error_from_response(500, "boom")).__name__ == "ServerError"
    assert isinstance(error_from_response(418, {"message": "teapot"}), WatchiumError)


def test_key_role_reads_either_kind_of_key(stack: Stack) -> None:
    assert key_role(stack.publishable_key) == key_role(stack.anon_key) == "anon"
    assert key_role(stack.secret_key) == key_role(stack.service_role_key) == "service_role"
    assert key_role("not a key") is None and key_role("a.b.c") is None


@pytest.mark.usefixtures("fresh_address")
async def test_a_session_joins_a_private_room_with_an_invite_and_sees_its_members(
    stack: Stack, host: WatchiumClient, viewer: WatchiumClient
) -> None:
    created = await new_room(host, public=False)
    room_id = created.room.room_id
    invite = await host.create_invite(room_id, ttl_seconds=600)
    async with (
        RoomSession(host, room_id, username="host") as hosting,
        RoomSession(viewer, room_id, username="guest", invite_token=invite.invite_token) as guest,
    ):
        assert guest.is_connected and hosting.is_connected
        guest_id = await viewer.user_id()
        async with asyncio.timeout(10):
            while guest_id not in hosting.presence:
                await asyncio.sleep(0.05)
        assert hosting.presence[guest_id].user_id == guest_id
