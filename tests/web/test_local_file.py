"""A member may play their own copy of the episode: the page keeps the local file in step with
the room like the room's URL, and warns when its length differs from the host's video (another
cut, another release), since the scenes would not line up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.web._browser import SYNCED, Rooms, probe, until, video_offset
from watchium_stack.democlip import make_clip
from watchium_stack.harness import Stack

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_local_file_follows_the_room_and_a_different_length_is_flagged(
    browser: Any, stack: Stack, rooms: Rooms, tmp_path: Path
) -> None:
    short = tmp_path / "episode-short-cut.mp4"
    assert make_clip(short, seconds=40), "ffmpeg is needed (apt-get install ffmpeg)"

    host = browser.new_page()
    host.goto(stack.url + "/")
    host.get_by_label("Title").fill("Local files")
    host.get_by_label("Anime").fill("Mushishi")
    host.get_by_role("button", name="Create room").click()
    host.get_by_role("group", name="Host controls").wait_for()
    share = host.get_by_label("Share link").input_value()
    room_id = share.split("#/room/")[1]

    member = browser.new_context().new_page()
    member.goto(share)
    member.get_by_text("The host controls playback").wait_for()
    member.get_by_text("Play a local file instead").click()
    member.get_by_label("Video file").set_input_files(str(short))
    member.get_by_text("Playing your file: episode-short-cut.mp4").wait_for()
    member.get_by_text("Your video is 0:40 long, the host's is 2:00").wait_for()

    host.get_by_role("button", name="Play").click()
    until(lambda: rooms.row(room_id).playing, "the room plays")
    until(
        lambda: not probe(member)["paused"] and abs(video_offset(member, rooms, room_id)) <= SYNCED,
        "the local file plays in step with the room",
    )
    assert member.evaluate("document.querySelector('video').src").startswith("blob:")
    member.context.close()
    host.close()
