"""The SDK's side of the hardening: every room channel private, presences taken only under
their own user's key."""

from __future__ import annotations

from typing import Any

from watchium_client.session._channel import RoomChannel
from watchium_wire import MemberPresence, realtime_hints


def test_every_rooms_channel_is_private() -> None:
    for public in (True, False):
        assert realtime_hints("abcdefghij", is_public=public, user_id="u").private is True


class _Channel:
    def __init__(self, state: dict[str, list[dict[str, Any]]]) -> None:
        self._state = state

    def presence_state(self) -> dict[str, list[dict[str, Any]]]:
        return self._state


def test_a_presence_that_speaks_for_another_user_is_ignored() -> None:
    seen: list[dict[str, MemberPresence]] = []
    channel = RoomChannel(
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        on_presence=seen.append,
    )
    channel._channel = _Channel(  # type: ignore[assignment]
        {
            "host": [{"user_id": "host", "username": "h", "presence_ref": "1"}],
            "member": [{"user_id": "member", "username": "m", "presence_ref": "2"}],
            # tracked under the member's own key, claiming to be the host, and buffering
            "intruder": [
                {"user_id": "host", "username": "h", "buffering": True, "presence_ref": "3"}
            ],
        }
    )
    channel._on_presence_sync()
    assert set(seen[-1]) == {"host", "member"}
    assert seen[-1]["host"].buffering is False
