"""The platform README's whole flow through supabase-py, with anonymously signed-in users."""

from __future__ import annotations

import pytest

from tests._pg import TestDatabase
from tests._stack import Stack
from tests._supabase_cli import over_both_databases
from tests.functions._helpers import count, invoke, one, room_body


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Also against the database `supabase db push` migrated.
    over_both_databases(metafunc)


async def test_readme_flow_end_to_end(stack: Stack, database: TestDatabase) -> None:
    async with stack.client() as host, stack.client() as viewer:
        host_id = (await host.auth.get_user()).user.id
        viewer_id = (await viewer.auth.get_user()).user.id

        # create: the room, the host's membership, the Realtime subscription to make
        body = room_body(title="Watching Attack on Titan S1E1 Together", is_public=True)
        created = await invoke(host, "rooms-create", body)
        room = created["room"]
        room_id = room["room_id"]
        assert room["host_user_id"] == host_id and room["title"] == body["title"]
        assert created["member"]["is_host"] is True and created["access_key"] is None
        assert created["realtime_channel"] == f"room:{room_id}"
        hints = created["realtime"]
        # Every room's channel is private, a public room's too: only members may use it.
        assert hints["channel"] == f"room:{room_id}" and hints["private"] is True
        assert hints["presence_key"] == host_id
        assert {(b["table"], b["event"]) for b in hints["postgres_changes"]} == {
            ("rooms", "UPDATE"),
            ("room_members", "*"),
            ("comments", "INSERT"),
            ("comment_reaction_counts", "*"),
            ("room_queue", "*"),
            ("ready_checks", "*"),
        }
        assert all(b["filter"] == f"room_id=eq.{room_id}" for b in hints["postgres_changes"])

        # join
        joined = await invoke(
            viewer,
            "rooms-join",
            {"room_id": room_id, "username": "Viewer123", "avatar_url": "https://e.com/a.png"},
        )
        assert joined["member"]["user_id"] == viewer_id and joined["rejoined"] is False
        assert joined["realtime"]["presence_key"] == viewer_id
        again = await invoke(viewer, "rooms-join", {"room_id": room_id, "username": "Viewer123"})
        assert again["rejoined"] is True

        # the host controls playback: play, pause, seek, speed (one per call of the 2/s limit)
        state = await invoke(
            host, "sync-control", {"room_id": room_id, "action": "play", "current_time": 10.0}
        )
        assert state["is_playing"] is True and float(state["current_playback_time"]) == 10.0
        state = await invoke(host, "sync-control", {"room_id": room_id, "action": "pause"})
        assert state["is_playing"] is False
        await _next_sync_slot(database, host_id)
        state = await invoke(
            host, "sync-control", {"room_id": room_id, "action": "seek", "current_time": 120.5}
        )
        assert float(state["current_playback_time"]) == 120.5
        await _next_sync_slot(database, host_id)
        state = await invoke(
            host, "sync-control", {"room_id": room_id, "action": "speed", "playback_speed": 1.5}
        )
        assert float(state["playback_speed"]) == 1.5

        host_time = await invoke(viewer, "sync-get-host-time", {"room_id": room_id})
        assert host_time["room_id"] == room_id and float(host_time["live_position"]) == 120.5

        # comments: post, read the thread, analytics
        comment = await invoke(
            viewer,
            "comments-create",
            {
                "anime_id": body["anime_id"],
                "room_id": room_id,
                "episode_number": 1,
                "username": "Viewer123",
                "message": "This opening is amazing!",
                "video_timestamp": 120.5,
            },
        )
        assert comment["user_id"] == viewer_id and comment["parent_id"]
        reply = await invoke(
            host,
            "comments-create",
            {
                "anime_id": body["anime_id"],
                "room_id": room_id,
                "episode_number": 1,
                "username": "host",
                "message": "agreed",
                "parent_id": comment["id"],
            },
        )
        assert reply["parent_id"] == comment["id"]
        page = await invoke(
            viewer,
            "comments-get-by-episode",
            {"anime_id": body["anime_id"], "episode_number": 1, "room_id": room_id},
        )
        assert [c["message"] for c in page["comments"]] == ["This opening is amazing!", "agreed"]
        assert page["anchor"]["is_anchor"] is True and page["has_more"] is False
        history = await invoke(viewer, "comments-get-history", {"room_id": room_id, "hours": 1})
        assert history["total"] == 2 and history["participants"] == 2

        # discover, members, heartbeat
        listed = await invoke(viewer, "rooms-list-public", {"anime_id": body["anime_id"]})
        assert [r["room_id"] for r in listed["rooms"]] == [room_id]
        assert listed["rooms"][0]["member_count"] == 2
        status = await invoke(
            viewer,
            "members-update-status",
            {"room_id": room_id, "current_time": 120.0, "is_buffering": False},
        )
        assert status["member"]["is_synced"] is True
        members = await invoke(viewer, "members-get-list", {"room_id": room_id})
        assert [m["user_id"] for m in members["members"]] == [host_id, viewer_id]
        assert members["member_count"] == 2

        # the host leaves: the viewer becomes host, and a system comment says so
        left = await invoke(host, "rooms-leave", {"room_id": room_id})
        assert left == {
            "room_id": room_id,
            "left": True,
            "was_host": True,
            "host_user_id": viewer_id,
            "members_left": 1,
        }
        assert one(database, "select host_user_id from rooms where room_id = %s", (room_id,)) == {
            "host_user_id": viewer_id
        }
        assert (
            count(
                database,
                "comments",
                "room_id = %s and is_system_message and message like %s",
                (room_id, "%became the new host"),
            )
            == 1
        )

        # the new host may control playback and delete the room
        await invoke(viewer, "sync-control", {"room_id": room_id, "action": "play"})
        deleted = await invoke(viewer, "rooms-delete", {"room_id": room_id})
        assert deleted == {"room_id": room_id, "deleted": True}
        assert count(database, "rooms", "room_id = %s", (room_id,)) == 0


async def test_private_room_key_join_and_channel(stack: Stack, database: TestDatabase) -> None:
    async with stack.client() as host, stack.client() as viewer:
        created = await invoke(host, "rooms-create", room_body(is_public=False))
        key = created["access_key"]
        assert key is not None and len(key) == 6 and key.isdigit()
        assert created["realtime"]["private"] is True
        room_id = created["room"]["room_id"]
        joined = await invoke(
            viewer, "rooms-join", {"room_id": room_id, "username": "v", "access_key": key}
        )
        assert joined["realtime"]["private"] is True
        assert "access_key" not in joined and key not in str(joined)


async def test_service_role_may_act_for_a_named_user(stack: Stack, database: TestDatabase) -> None:
    async with stack.client(sign_in=False, key=stack.service_role_key) as server:
        created = await invoke(server, "rooms-create", room_body(host_user_id="bot-7"))
        assert created["room"]["host_user_id"] == "bot-7"
        assert created["realtime"]["presence_key"] == "bot-7"


async def test_anon_may_read_public_rooms(stack: Stack) -> None:
    async with stack.client(sign_in=False) as anon:
        listed = await invoke(anon, "rooms-list-public")
        assert listed["limit"] == 20 and listed["offset"] == 0


async def test_the_sync_client_works_too(stack: Stack) -> None:
    with stack.sync_client() as client:
        result = client.functions.invoke(
            "rooms-create", {"body": room_body(), "responseType": "json"}
        )
        assert result["data"]["room"]["host_user_id"] == client.auth.get_user().user.id


async def _next_sync_slot(database: TestDatabase, host_id: str) -> None:
    """Let the host's sync_control bucket refill (2 per second) without waiting a second: the
    rate limit is not what this flow tests (test_rate_limits.py does)."""
    with database.connect() as conn:
        conn.execute(
            "delete from watchium.rate_limit_buckets "
            "where subject = %s and action = 'sync_control'",
            (host_id,),
        )
