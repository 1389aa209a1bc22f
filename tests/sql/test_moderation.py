# Over 500 lines: one rule per test across the permission table (anon, outsider, member,
# co-host, host, service_role) and every action, each refusal checked to write nothing.
"""Migration 018: co-hosts, kick, ban, mute, key rotation as moderation, the audit log."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests._pg import SqlSession, new_user
from tests.sql.conftest import Room, create_room, join_room


def snapshot(sql: SqlSession, room: Room) -> dict[str, Any]:
    """Everything a moderation call could write, for ``room`` (read as ``postgres``)."""
    sql.as_admin()
    return {
        "members": sql.all(
            "select user_id, is_host, is_cohost from room_members where room_id = %s "
            "order by user_id",
            (room.room_id,),
        ),
        "restrictions": sql.all(
            "select user_id, kind from room_restrictions where room_id = %s order by 1, 2",
            (room.room_id,),
        ),
        "log": sql.count("watchium.moderation_log", "room_id = %s", (room.room_id,)),
        "comments": sql.count("comments", "origin_room_id = %s", (room.room_id,)),
        "buckets": sql.all(
            "select subject, action, tat from watchium.rate_limit_buckets order by 1, 2"
        ),
        "key": sql.scalar(
            "select access_key from watchium.room_access_keys where room_id = %s", (room.room_id,)
        ),
    }


def moderate(sql: SqlSession, actor: str, room: Room, action: str, target: str, **kw: Any) -> Any:
    result = sql.as_user(actor).rpc(
        "rooms_moderate", room_id=room.room_id, action=action, target_user_id=target, **kw
    )
    sql.as_admin()
    return result


def set_cohost(sql: SqlSession, actor: str, room: Room, target: str, on: bool = True) -> Any:
    result = sql.as_user(actor).rpc(
        "members_set_cohost", room_id=room.room_id, target_user_id=target, is_cohost=on
    )
    sql.as_admin()
    return result


def is_member(sql: SqlSession, room: Room, user: str) -> bool:
    return sql.count("room_members", "room_id = %s and user_id = %s", (room.room_id, user)) == 1


def system_messages(sql: SqlSession, room: Room) -> list[str]:
    return [
        r["message"]
        for r in sql.all(
            "select message from comments where room_id = %s and is_system_message "
            "and not is_anchor order by created_at",
            (room.room_id,),
        )
    ]


def log_rows(sql: SqlSession, room: Room) -> list[tuple[str, str, str, str | None]]:
    return [
        (r["actor_user_id"], r["actor_role"], r["action"], r["target_user_id"])
        for r in sql.all(
            "select * from watchium.moderation_log where room_id = %s order by id", (room.room_id,)
        )
    ]


def refused(sql: SqlSession, room: Room, code: str, call: Any, *, as_role: Any = None) -> None:
    """``call()`` is refused with ``code`` and leaves everything as it was."""
    before = snapshot(sql, room)
    if as_role is not None:
        as_role()
    with sql.raises(code):
        call()
    assert snapshot(sql, room) == before


@pytest.fixture
def party(sql: SqlSession, room: Room) -> dict[str, str]:
    """A public room with a host, a co-host and two members."""
    cohost = join_room(sql, room, username="cohost")
    viewer = join_room(sql, room, username="viewer")
    other = join_room(sql, room, username="other")
    set_cohost(sql, room.host, room, cohost)
    return {"host": room.host, "cohost": cohost, "viewer": viewer, "other": other}


# -- who may do what -------------------------------------------------------------------------


def test_anon_may_not_moderate(sql: SqlSession, room: Room, party: dict[str, str]) -> None:
    for fn, args in (
        ("rooms_moderate", {"action": "kick", "target_user_id": party["viewer"]}),
        ("members_set_cohost", {"target_user_id": party["viewer"]}),
    ):
        refused(
            sql,
            room,
            "42501",
            lambda fn=fn, args=args: sql.rpc(fn, room_id=room.room_id, **args),
            as_role=sql.as_anon,
        )


def test_an_outsider_may_not_moderate(
    sql: SqlSession, room: Room, private_room: Room, party: dict[str, str]
) -> None:
    outsider = new_user()
    refused(
        sql,
        room,
        "WRH03",
        lambda: sql.rpc(
            "rooms_moderate", room_id=room.room_id, action="ban", target_user_id=party["viewer"]
        ),
        as_role=lambda: sql.as_user(outsider),
    )
    member = join_room(sql, private_room)
    # A private room the caller is not in does not exist for them.
    refused(
        sql,
        private_room,
        "WR404",
        lambda: sql.rpc(
            "rooms_moderate", room_id=private_room.room_id, action="kick", target_user_id=member
        ),
        as_role=lambda: sql.as_user(outsider),
    )


@pytest.mark.parametrize("action", ["kick", "ban", "mute"])
def test_a_member_may_not_moderate(
    sql: SqlSession, room: Room, party: dict[str, str], action: str
) -> None:
    refused(
        sql,
        room,
        "WRH03",
        lambda: sql.rpc(
            "rooms_moderate", room_id=room.room_id, action=action, target_user_id=party["other"]
        ),
        as_role=lambda: sql.as_user(party["viewer"]),
    )


@pytest.mark.parametrize("target", ["host", "cohost"])
@pytest.mark.parametrize("action", ["kick", "ban", "mute"])
def test_a_cohost_may_not_act_on_the_host_or_another_cohost(
    sql: SqlSession, room: Room, party: dict[str, str], target: str, action: str
) -> None:
    second = join_room(sql, room, username="second cohost")
    set_cohost(sql, room.host, room, second)
    refused(
        sql,
        room,
        "WRH03",
        lambda: sql.rpc(
            "rooms_moderate", room_id=room.room_id, action=action, target_user_id=party[target]
        ),
        as_role=lambda: sql.as_user(second),
    )


def test_only_the_host_grants_cohost(sql: SqlSession, room: Room, party: dict[str, str]) -> None:
    for actor in ("cohost", "viewer"):
        refused(
            sql,
            room,
            "WRH03",
            lambda: sql.rpc(
                "members_set_cohost", room_id=room.room_id, target_user_id=party["other"]
            ),
            as_role=lambda actor=actor: sql.as_user(party[actor]),
        )
    refused(
        sql,
        room,
        "WRH03",
        lambda: sql.rpc(
            "members_set_cohost",
            room_id=room.room_id,
            target_user_id=party["cohost"],
            is_cohost=False,
        ),
        as_role=lambda: sql.as_user(party["cohost"]),
    )


def test_cohost_needs_a_member_who_is_not_the_host(
    sql: SqlSession, room: Room, party: dict[str, str]
) -> None:
    refused(
        sql,
        room,
        "WRM03",
        lambda: sql.rpc("members_set_cohost", room_id=room.room_id, target_user_id=new_user()),
        as_role=lambda: sql.as_user(room.host),
    )
    sql.as_admin()
    refused(
        sql,
        room,
        "WR400",
        lambda: sql.rpc("members_set_cohost", room_id=room.room_id, target_user_id=room.host),
        as_role=lambda: sql.as_service(new_user()),
    )


def test_the_host_grants_and_revokes_cohost(
    sql: SqlSession, room: Room, party: dict[str, str]
) -> None:
    result = set_cohost(sql, room.host, room, party["viewer"])
    assert result["member"]["user_id"] == party["viewer"] and result["member"]["is_cohost"] is True
    again = set_cohost(sql, room.host, room, party["viewer"])  # no change: no message, no row
    assert again["member"]["is_cohost"] is True
    set_cohost(sql, room.host, room, party["viewer"], on=False)
    assert (
        sql.scalar(
            "select is_cohost from room_members where room_id = %s and user_id = %s",
            (room.room_id, party["viewer"]),
        )
        is False
    )
    assert system_messages(sql, room) == [
        "cohost is now a co-host",
        "viewer is now a co-host",
        "viewer is no longer a co-host",
    ]
    assert [row[2] for row in log_rows(sql, room)] == [
        "grant_cohost",
        "grant_cohost",
        "revoke_cohost",
    ]


def test_bad_inputs_are_refused(sql: SqlSession, room: Room, party: dict[str, str]) -> None:
    def call(**kw: Any) -> Any:
        return lambda: sql.rpc("rooms_moderate", room_id=room.room_id, **kw)

    host = lambda: sql.as_user(room.host)  # noqa: E731
    refused(sql, room, "WR400", call(action="smite", target_user_id=party["viewer"]), as_role=host)
    refused(sql, room, "WR400", call(action="kick", target_user_id=room.host), as_role=host)
    refused(sql, room, "WR400", call(action="kick", target_user_id="x" * 101), as_role=host)
    refused(
        sql,
        room,
        "WR400",
        call(action="ban", target_user_id=party["viewer"], reason="r" * 201),
        as_role=host,
    )
    refused(sql, room, "WRM03", call(action="kick", target_user_id=new_user()), as_role=host)
    refused(sql, room, "WRM03", call(action="mute", target_user_id=new_user()), as_role=host)


# -- kick --------------------------------------------------------------------------------------


@pytest.mark.parametrize("actor", ["host", "cohost"])
def test_kick_removes_the_member_with_a_message_and_an_audit_row(
    sql: SqlSession, room: Room, party: dict[str, str], actor: str
) -> None:
    result = moderate(sql, party[actor], room, "kick", party["viewer"], reason="spoilers")
    assert result == {
        "room_id": room.room_id,
        "action": "kick",
        "target_user_id": party["viewer"],
        "changed": True,
    }
    assert not is_member(sql, room, party["viewer"])
    assert system_messages(sql, room)[-1] == f"viewer was removed by {actor}"
    assert log_rows(sql, room)[-1] == (party[actor], actor, "kick", party["viewer"])
    assert (
        sql.scalar(
            "select reason from watchium.moderation_log where action = 'kick' and room_id = %s",
            (room.room_id,),
        )
        == "spoilers"
    )
    # A kicked member (or a client rejoining by itself) stays out for the cooldown...
    sql.as_user(party["viewer"])
    with sql.raises("WRB03") as info:
        sql.rpc("rooms_join", room_id=room.room_id, username="back")
    detail = json.loads(info.value.diag.message_detail or "{}")
    assert detail["kind"] == "kick" and 299 < detail["retry_after"] <= 300
    # ...and may come back after it: a kick is not a ban.
    sql.as_admin()
    sql.conn.execute(
        "update room_restrictions set expires_at = now() - interval '1 second' "
        "where room_id = %s and user_id = %s",
        (room.room_id, party["viewer"]),
    )
    join_room(sql, room, party["viewer"])


def test_unban_lifts_a_kicks_cooldown(sql: SqlSession, room: Room, party: dict[str, str]) -> None:
    moderate(sql, room.host, room, "kick", party["viewer"])
    assert moderate(sql, room.host, room, "unban", party["viewer"])["changed"] is True
    join_room(sql, room, party["viewer"])


def test_service_role_may_remove_the_host_and_a_cohost_takes_over(
    sql: SqlSession, room: Room, party: dict[str, str]
) -> None:
    admin = new_user()  # service_role acting for a user who is not in the room
    sql.as_service(admin)
    sql.rpc("rooms_moderate", room_id=room.room_id, action="kick", target_user_id=room.host)
    sql.as_admin()
    assert not is_member(sql, room, room.host)
    new_host = sql.one(
        "select user_id, is_host, is_cohost from room_members where is_host and room_id = %s",
        (room.room_id,),
    )
    assert new_host == {"user_id": party["cohost"], "is_host": True, "is_cohost": False}
    assert log_rows(sql, room)[-1] == (admin, "service", "kick", room.host)


# -- ban -----------------------------------------------------------------------------------------


def test_a_banned_user_cannot_rejoin_with_the_key_an_invite_or_a_new_session(
    sql: SqlSession, private_room: Room
) -> None:
    room = private_room
    viewer = join_room(sql, room, username="viewer")
    invite = sql.as_user(room.host).rpc("rooms_create_invite", room_id=room.room_id)["invite_token"]
    sql.as_admin()
    moderate(sql, room.host, room, "ban", viewer, reason="trolling")
    assert not is_member(sql, room, viewer)
    assert system_messages(sql, room)[-1] == "viewer was banned by host"

    def join(**kw: Any) -> Any:
        return lambda: sql.rpc("rooms_join", room_id=room.room_id, username="back", **kw)

    refused(
        sql, room, "WRB03", join(access_key=room.access_key), as_role=lambda: sql.as_user(viewer)
    )
    refused(sql, room, "WRB03", join(invite_token=invite), as_role=lambda: sql.as_user(viewer))
    # Signing in again gives a new session under the same user id: the ban holds.
    refused(
        sql,
        room,
        "WRB03",
        join(access_key=room.access_key),
        as_role=lambda: sql.as_user(viewer, session_id=new_user()),
    )
    refused(
        sql,
        room,
        "WRB03",
        join(access_key=room.access_key),
        as_role=lambda: sql.as_service(viewer),
    )
    # Without the key a private room still answers as if it did not exist.
    sql.as_user(viewer)
    assert sql.rpc("rooms_join", room_id=room.room_id, username="back")["error"]["code"] == "WR404"
    sql.as_admin()

    moderate(sql, room.host, room, "unban", viewer)
    join_room(sql, room, viewer, key=room.access_key)


def test_a_user_can_be_banned_before_joining(sql: SqlSession, room: Room) -> None:
    stranger = new_user()
    result = moderate(sql, room.host, room, "ban", stranger)
    assert result["changed"] is True
    assert system_messages(sql, room)[-1] == "a user was banned by host"
    refused(
        sql,
        room,
        "WRB03",
        lambda: sql.rpc("rooms_join", room_id=room.room_id, username="s"),
        as_role=lambda: sql.as_user(stranger),
    )
    assert moderate(sql, room.host, room, "ban", stranger)["changed"] is False


def test_a_cohost_may_ban_and_unban_a_member(
    sql: SqlSession, room: Room, party: dict[str, str]
) -> None:
    moderate(sql, party["cohost"], room, "ban", party["viewer"])
    assert sql.all(
        "select user_id, kind, created_by from room_restrictions where room_id = %s",
        (room.room_id,),
    ) == [{"user_id": party["viewer"], "kind": "ban", "created_by": party["cohost"]}]
    assert moderate(sql, party["cohost"], room, "unban", party["viewer"])["changed"] is True
    assert moderate(sql, party["cohost"], room, "unban", party["viewer"])["changed"] is False
    assert [r[2] for r in log_rows(sql, room)] == ["grant_cohost", "ban", "unban"]


# -- mute ----------------------------------------------------------------------------------------


def test_a_muted_member_cannot_comment_until_unmuted(
    sql: SqlSession, room: Room, party: dict[str, str]
) -> None:
    viewer = party["viewer"]
    sql.as_user(viewer)
    old = sql.rpc(
        "comments_create",
        anime_id="frieren",
        episode_number=1,
        message="before",
        username="v",
        room_id=room.room_id,
    )
    sql.as_admin()
    moderate(sql, party["cohost"], room, "mute", viewer)
    assert system_messages(sql, room)[-1] == "viewer was muted by cohost"

    def post() -> Any:
        return sql.rpc(
            "comments_create",
            anime_id="frieren",
            episode_number=1,
            message="hi",
            username="v",
            room_id=room.room_id,
        )

    refused(sql, room, "WRS03", post, as_role=lambda: sql.as_user(viewer))
    refused(
        sql,
        room,
        "WRS03",
        lambda: sql.conn.execute(
            "update comments set message = 'edited' where id = %s", (old["id"],)
        ),
        as_role=lambda: sql.as_user(viewer),
    )
    # Leaving and joining again does not lift it.
    sql.as_user(viewer).rpc("rooms_leave", room_id=room.room_id)
    join_room(sql, room, viewer)
    refused(sql, room, "WRS03", post, as_role=lambda: sql.as_user(viewer))
    # Others still comment.
    sql.as_user(party["other"]).rpc(
        "comments_create",
        anime_id="frieren",
        episode_number=1,
        message="ok",
        username="o",
        room_id=room.room_id,
    )
    moderate(sql, party["cohost"], room, "unmute", viewer)
    sql.as_user(viewer)
    assert post()["message"] == "hi"


# -- co-hosts control playback -----------------------------------------------------------------


def test_a_cohost_controls_playback_and_loses_it_when_revoked(
    sql: SqlSession, room: Room, party: dict[str, str]
) -> None:
    sql.as_user(party["cohost"])
    assert (
        sql.rpc("sync_control", room_id=room.room_id, action="seek", current_time=42.0)[
            "current_playback_time"
        ]
        == 42
    )
    sql.as_admin()
    refused(
        sql,
        room,
        "WRH03",
        lambda: sql.rpc("sync_control", room_id=room.room_id, action="play"),
        as_role=lambda: sql.as_user(party["viewer"]),
    )
    set_cohost(sql, room.host, room, party["cohost"], on=False)
    refused(
        sql,
        room,
        "WRH03",
        lambda: sql.rpc("sync_control", room_id=room.room_id, action="play"),
        as_role=lambda: sql.as_user(party["cohost"]),
    )


def test_the_host_leaving_prefers_a_cohost_over_earlier_joiners(
    sql: SqlSession, room: Room
) -> None:
    join_room(sql, room, username="early")
    late = join_room(sql, room, username="late")
    set_cohost(sql, room.host, room, late)
    result = sql.as_user(room.host).rpc("rooms_leave", room_id=room.room_id)
    assert result["host_user_id"] == late
    sql.as_admin()
    assert sql.one(
        "select is_host, is_cohost from room_members where room_id = %s and user_id = %s",
        (room.room_id, late),
    ) == {"is_host": True, "is_cohost": False}
    assert sql.scalar("select host_user_id from rooms where room_id = %s", (room.room_id,)) == late


def test_a_member_cannot_make_themself_cohost(
    sql: SqlSession, room: Room, party: dict[str, str]
) -> None:
    refused(
        sql,
        room,
        "42501",
        lambda: sql.conn.execute(
            "update room_members set is_cohost = true where user_id = %s", (party["viewer"],)
        ),
        as_role=lambda: sql.as_user(party["viewer"]),
    )


# -- key rotation, limits, visibility ----------------------------------------------------------


def test_rotating_the_key_is_logged_and_announced(sql: SqlSession, private_room: Room) -> None:
    sql.as_user(private_room.host).rpc("rooms_rotate_access_key", room_id=private_room.room_id)
    sql.as_admin()
    assert log_rows(sql, private_room) == [(private_room.host, "host", "rotate_key", None)]
    assert system_messages(sql, private_room) == [
        "the access key was changed: the old key and earlier invites no longer open the room"
    ]


def test_a_cohost_may_not_rotate_the_key(sql: SqlSession, private_room: Room) -> None:
    cohost = join_room(sql, private_room, username="cohost")
    set_cohost(sql, private_room.host, private_room, cohost)
    refused(
        sql,
        private_room,
        "WRH03",
        lambda: sql.rpc("rooms_rotate_access_key", room_id=private_room.room_id),
        as_role=lambda: sql.as_user(cohost),
    )


def test_moderation_is_limited_to_sixty_an_hour(sql: SqlSession) -> None:
    room = create_room(sql)
    target = new_user()
    for i in range(60):
        moderate(sql, room.host, room, "ban" if i % 2 == 0 else "unban", target)
    refused(
        sql,
        room,
        "WR429",
        lambda: sql.rpc(
            "rooms_moderate", room_id=room.room_id, action="ban", target_user_id=target
        ),
        as_role=lambda: sql.as_user(room.host),
    )


def test_restrictions_are_seen_by_the_user_and_the_moderators_only(
    sql: SqlSession, room: Room, party: dict[str, str]
) -> None:
    moderate(sql, room.host, room, "mute", party["viewer"])
    query = "select user_id from room_restrictions where room_id = %s"
    for who, sees in (
        ("viewer", 1),
        ("host", 1),
        ("cohost", 1),
        ("other", 0),
    ):
        sql.as_user(party[who])
        assert len(sql.all(query, (room.room_id,))) == sees, who
    sql.as_anon()
    with sql.raises("42501"):
        sql.all(query, (room.room_id,))


@pytest.mark.parametrize("role", ["anon", "authenticated", "service_role"])
def test_the_audit_log_is_for_database_admins_only(
    sql: SqlSession, room: Room, party: dict[str, str], role: str
) -> None:
    {
        "anon": sql.as_anon,
        "authenticated": lambda: sql.as_user(room.host),
        "service_role": sql.as_service,
    }[role]()
    with sql.raises("42501"):
        sql.all("select * from watchium.moderation_log")
