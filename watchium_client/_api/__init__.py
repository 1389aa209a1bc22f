"""``WatchiumClient``: typed calls to every Watchium function, on supabase-py's async client.

There is no second HTTP stack: calls go through ``supabase.functions.invoke`` with the session's
token, and Realtime (see :class:`~watchium_client.RoomSession`) through ``supabase.channel``. Every
successful answer carries the server's clock, so every call is also a clock sample: after a few
calls :attr:`WatchiumClient.clock` knows the offset to the server within a few milliseconds.

    client = await WatchiumClient.connect("http://127.0.0.1:54321", PUBLISHABLE_KEY)  # signs in
    created = await client.create_room(title="Frieren night", anime_id="frieren",
                                       anime_title="Frieren", video_url="https://...",
                                       username="me")
    await client.play(created.room.room_id, at_position=0)

The calls are grouped by concern: :mod:`._transport` (the connection and the one request path),
:mod:`._client` (rooms, playback, members), :mod:`._nights` (moderation, the queue, skips, the
ready check), :mod:`._comments` (threads, replay, reactions, analytics).
"""

from __future__ import annotations

from watchium_client._api._client import WatchiumClient
from watchium_client._api._keys import invite_room_id, key_role

__all__ = ["WatchiumClient", "invite_room_id", "key_role"]
