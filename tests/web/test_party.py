"""A watch party in real browsers: a host and two members, each in a Chromium context of its
own (its own anonymous user, supabase-js client and Realtime socket), against the real gateway.

Every step asserts on what the pages show and on each page's real ``video.currentTime`` against
the room's live position from its row in the database. Waits are condition waits.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.web._browser import (
    SYNCED,
    Rooms,
    probe,
    screenshot,
    until,
    video_offset,
)
from watchium_stack.harness import Stack

pytestmark = [pytest.mark.browser, pytest.mark.slow]

XSS = "<img src=x onerror=alert(1)>"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def _public_room(stack: Stack, title: str) -> str:
    """A public room made through the API, so the lobby lists one."""
    headers = {"apikey": stack.publishable_key, "Content-Type": "application/json"}
    with httpx.Client(base_url=stack.url, headers=headers, timeout=30) as http:
        token = http.post("/auth/v1/signup", json={}).json()["access_token"]
        answer = http.post(
            "/functions/v1/rooms-create",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "title": title,
                "anime_id": "frieren",
                "anime_title": "Frieren",
                "episode_number": 3,
                "video_url": f"{stack.url}/demo/clip.mp4",
                "host_username": "Mio",
            },
        )
        answer.raise_for_status()
        return str(answer.json()["data"]["room"]["room_id"])


def _page(browser: Any, stack: Stack, viewport: dict[str, int]) -> Any:
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.on("dialog", lambda dialog: pytest.fail(f"the page opened a dialog: {dialog.message}"))
    page.goto(stack.url + "/")
    page.get_by_role("heading", name="Create a room").wait_for()
    return page


def _all_in_step(pages: list[Any], rooms: Rooms, room_id: str, *, playing: bool) -> None:
    def check() -> list[float] | None:
        offsets = []
        for page in pages:
            p = probe(page)
            if p["paused"] == playing or p["seeking"]:
                return None
            offsets.append(video_offset(page, rooms, room_id))
        return offsets if all(abs(o) <= SYNCED for o in offsets) else None

    until(check, f"every video is {'playing' if playing else 'paused'} within 100 ms of the room")


def test_a_watch_party_in_three_browsers(
    browser: Any, stack: Stack, rooms: Rooms, tmp_path: Path
) -> None:
    title = f"Frieren night {uuid.uuid4().hex[:6]}"
    _public_room(stack, title)
    host = _page(browser, stack, DESKTOP)
    # The lobby lists the public room live, with its member count.
    host.locator("li.room", has_text=title).get_by_text("1 watching").wait_for()
    screenshot(host, "web-lobby", tmp_path)

    # Create a private room; the title is text, never markup.
    host.get_by_label("Your name").fill("Mio")
    host.get_by_label("Title").fill(f"Night {XSS}")
    host.get_by_label("Anime").fill("Frieren")
    host.get_by_label("Private").check()
    host.get_by_role("button", name="Create room").click()
    host.get_by_role("group", name="Host controls").wait_for()
    assert host.locator("h1.room-title").inner_text() == f"Night {XSS}"
    share = host.get_by_label("Share link").input_value()
    assert "?key=" in share
    room_id = share.split("#/room/")[1].split("?")[0]
    key = share.split("key=")[1]

    # Member 1 by the share link; member 2 (a phone) by id and key, after a wrong key.
    rin = _page(browser, stack, DESKTOP)
    rin.get_by_label("Your name").fill("Rin")
    rin.get_by_label("Your name").press("Tab")
    rin.goto(share)
    rin.get_by_text("The host controls playback").wait_for()
    kai = _page(browser, stack, PHONE)
    kai.get_by_label("Your name").fill("Kai")
    kai.get_by_label("Room link or id").fill(room_id)
    wrong = "000000" if key != "000000" else "111111"
    kai.get_by_label("Access key", exact=True).fill(wrong)
    kai.get_by_role("button", name="Join", exact=True).click()
    # A wrong key and a missing room get one answer: guessing learns nothing.
    kai.get_by_text("No such room, or its access key is not right").wait_for()
    kai.get_by_label("Access key", exact=True).fill(key)
    kai.get_by_role("button", name="Join with this key").click()
    kai.get_by_text("The host controls playback").wait_for()
    for page in (host, rin, kai):
        until(lambda page=page: page.locator("li.member").count() == 3, "three members shown")
    assert kai.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    pages = [host, rin, kai]

    # Play: every video starts and follows the room.
    host.get_by_role("button", name="Play").click()
    _all_in_step(pages, rooms, room_id, playing=True)
    for page in pages:
        until(
            lambda page=page: page.locator("li.member .status.in-sync").count() == 3,
            "every member shown in sync",
        )

    # Seek forward 10 s (the keyboard's L): the room jumps, every video with it. The host's
    # video is the room's reference: moved once by its own seek, then never corrected (no
    # nudge, no second seek) while the transition settles; an offset moves the room instead.
    _watch_video(host)
    nudges = probe(host)["counts"]["speed"]
    before = rooms.row(room_id).live(probe(host)["at"])
    host.locator("body").press("l")
    until(lambda: rooms.row(room_id).position >= before + 9, "the room seeked")
    _all_in_step(pages, rooms, room_id, playing=True)
    _transition_over(host)
    assert _video_log(host) == {"seeks": 1, "rates": []}
    assert probe(host)["counts"]["speed"] == nudges

    # Speed 1.5x: scheduled at one instant, every video runs at it, in step. The host's video
    # is told the new speed once, and neither nudged nor sought.
    host.get_by_label("Speed").select_option("1.5")
    until(lambda: rooms.row(room_id).speed == 1.5, "the room runs at 1.5x")
    _all_in_step(pages, rooms, room_id, playing=True)
    until(lambda: all(abs(probe(p)["rate"] - 1.5) < 0.08 for p in pages), "videos at ~1.5x")
    _transition_over(host)
    assert _video_log(host) == {"seeks": 0, "rates": [1.5]}
    assert probe(host)["counts"]["speed"] == nudges

    # Pause: every video stops where the room stopped.
    host.get_by_role("button", name="Pause").click()
    until(lambda: not rooms.row(room_id).playing, "the room paused")
    _all_in_step(pages, rooms, room_id, playing=False)

    # A comment with markup shows as text, live, on every page, with its video time.
    rin.get_by_role("textbox", name="Comment").fill(XSS)
    rin.get_by_role("textbox", name="Comment").press("Enter")
    for page in pages:
        page.locator("li.comment .text", has_text=XSS).wait_for()
        assert page.locator("ol.comments img").count() == 0
        assert page.locator("li.comment", has_text=XSS).locator("button.stamp").count() == 1

    # Kai's connection drops: a clear banner; what was missed arrives when it is back.
    kai.context.set_offline(True)
    kai.get_by_text("Connection lost").wait_for()
    screenshot(kai, "web-reconnect", tmp_path)
    host.get_by_role("textbox", name="Comment").fill("posted while Kai was away")
    host.get_by_role("textbox", name="Comment").press("Enter")
    host.get_by_role("button", name="Play").click()
    until(lambda: rooms.row(room_id).playing, "the room plays again")
    kai.context.set_offline(False)
    kai.get_by_text("Back online").wait_for()
    kai.locator("li.comment.missed", has_text="posted while Kai was away").wait_for()
    _all_in_step(pages, rooms, room_id, playing=True)
    screenshot(host, "web-host", tmp_path)
    screenshot(rin, "web-member", tmp_path)

    # The host leaves: the earliest member (Rin) takes over, and the others see it.
    host.get_by_role("button", name="Leave room").click()
    host.get_by_role("heading", name="Create a room").wait_for()
    rin.get_by_text("you are the host now").wait_for()
    rin.get_by_role("group", name="Host controls").wait_for()
    kai.locator("li.member", has_text="Rin").locator(".badge", has_text="host").wait_for()
    assert rooms.row(room_id).host_user_id == probe_user(rin)
    rin.get_by_role("button", name="Pause").click()
    until(lambda: not rooms.row(room_id).playing, "the new host paused the room")
    _all_in_step([rin, kai], rooms, room_id, playing=False)
    for page in pages:
        page.context.close()


def _watch_video(page: Any) -> None:
    """Records every seek and playbackRate change of the page's real <video> from now on."""
    page.evaluate(
        """() => {
        const v = window.watchiumRoom.player.video;
        window.videoLog = { seeks: 0, rates: [] };
        v.addEventListener('seeking', () => { window.videoLog.seeks += 1; });
        v.addEventListener('ratechange', () => { window.videoLog.rates.push(v.playbackRate); });
    }"""
    )


def _video_log(page: Any) -> dict[str, Any]:
    """What the page's <video> was told since the last look (see `_watch_video`)."""
    log: dict[str, Any] = page.evaluate(
        "() => { const log = window.videoLog; window.videoLog = { seeks: 0, rates: [] }; "
        "return log; }"
    )
    return log


def _transition_over(host: Any) -> None:
    # The reference player is left alone for the transient window after each change of the
    # room (its own action, or the re-anchor that answers it).
    until(lambda: probe(host)["sinceRoomChange"] > 3.2, "the host's transition window passed")


def probe_user(page: Any) -> str:
    return str(page.evaluate("() => window.watchiumRoom.app.userId"))
