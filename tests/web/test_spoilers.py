"""The thread in the browser hides what is said later in the episode than where the room is: a
comment stamped ahead shows as a spoiler, without its text, until the viewer asks to see it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web._browser import Rooms, until
from watchium_stack.harness import Stack

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_comment_from_later_in_the_episode_is_a_spoiler_until_shown(
    browser: Any, stack: Stack, rooms: Rooms
) -> None:
    host = browser.new_page()
    host.goto(stack.url + "/")
    host.get_by_label("Title").fill("No spoilers")
    host.get_by_label("Anime").fill("Monster")
    host.get_by_role("button", name="Create room").click()
    host.get_by_role("group", name="Host controls").wait_for()
    room_id = host.get_by_label("Share link").input_value().split("#/room/")[1]

    # The host skips ahead, says what happens there, and goes back to the start.
    for _ in range(3):
        before = rooms.row(room_id).position
        host.get_by_role("button", name="Forward 10 seconds").click()
        until(lambda before=before: rooms.row(room_id).position >= before + 9, "the room seeked")
    host.get_by_role("textbox", name="Comment").fill("the twist at thirty seconds")
    host.get_by_role("textbox", name="Comment").press("Enter")
    host.get_by_text("the twist at thirty seconds").wait_for()
    for _ in range(3):
        before = rooms.row(room_id).position
        host.get_by_role("button", name="Back 10 seconds").click()
        until(lambda before=before: rooms.row(room_id).position <= before - 9, "the room seeked")

    member = browser.new_context().new_page()
    member.goto(host.get_by_label("Share link").input_value())
    member.get_by_text("The host controls playback").wait_for()
    member.get_by_text("Spoiler: written later in the episode").wait_for()
    assert member.get_by_text("the twist at thirty seconds").count() == 0
    member.get_by_role("button", name="Show", exact=True).click()
    member.get_by_text("the twist at thirty seconds").wait_for()
    member.context.close()
    host.close()
