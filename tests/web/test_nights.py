"""Episode nights in real browsers (docs/NIGHTS.md, docs/WEB.md): the queue, skipping the
opening together, the ready check, co-hosts and a kick, each page in a Chromium context of its
own against the real gateway and database.

Every wait is a wait for a condition (on the pages, or on the rows in the database).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.web._browser import SYNCED, Rooms, probe, screenshot, until, video_offset
from watchium_stack.harness import Stack

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DESKTOP = {"width": 1280, "height": 800}


def _host_room(browser: Any, stack: Stack, title: str) -> tuple[Any, str]:
    """A host's page in a new public room (the demo clip); returns the page and the room id."""
    page = browser.new_context(viewport=DESKTOP).new_page()
    page.on("dialog", lambda dialog: pytest.fail(f"the page opened a dialog: {dialog.message}"))
    page.goto(stack.url + "/")
    page.get_by_label("Your name").fill("Mio")
    page.get_by_label("Title").fill(title)
    page.get_by_label("Anime").fill("Frieren")
    page.get_by_role("button", name="Create room").click()
    page.get_by_role("group", name="Host controls").wait_for()
    share = page.get_by_label("Share link").input_value()
    return page, share.split("#/room/")[1].split("?")[0]


def _member(browser: Any, host: Any, name: str) -> Any:
    page = browser.new_context(viewport=DESKTOP).new_page()
    page.on("dialog", lambda dialog: pytest.fail(f"the page opened a dialog: {dialog.message}"))
    page.goto(host.get_by_label("Share link").input_value().split("#")[0])
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Your name").press("Tab")
    page.goto(host.get_by_label("Share link").input_value())
    page.get_by_text("The host controls playback").wait_for()
    return page


def _add_episode(
    page: Any, number: int, title: str, url: str, opening: tuple[int, int] | None = None
) -> None:
    queue = page.get_by_role("region", name="Episode queue")
    form = queue.get_by_role("form", name="Add an episode")
    if not form.is_visible():
        queue.get_by_text("Add an episode", exact=True).click()
    form.get_by_label("Episode number").fill(str(number))
    form.get_by_label("Episode title").fill(title)
    form.get_by_label("Video URL").fill(url)
    form.get_by_label("Duration (s)").fill("120")
    if opening is not None:
        form.get_by_text("Opening and ending (optional)").click()
        form.get_by_label("Opening starts (s)").fill(str(opening[0]))
        form.get_by_label("Opening ends (s)").fill(str(opening[1]))
    form.get_by_role("button", name="Add to queue").click()
    queue.locator("li.queue-entry", has_text=title).wait_for()


def _src(page: Any) -> str:
    return str(probe(page)["src"])


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


def _room_value(stack: Stack, room_id: str, column: str) -> Any:
    """One of the room's episode columns, as the database has it."""
    with psycopg.connect(stack.db_url, autocommit=True) as conn:
        row = conn.execute(
            "select video_url, episode_number, ending_end from public.rooms where room_id = %s",
            (room_id,),
        ).fetchone()
    assert row is not None
    return dict(zip(("video_url", "episode_number", "ending_end"), row, strict=True))[column]


def _ready_check(stack: Stack, room_id: str) -> tuple[str, int, int] | None:
    with psycopg.connect(stack.db_url, autocommit=True) as conn:
        row = conn.execute(
            "select status, ready_count, expected_count from public.ready_checks"
            " where room_id = %s",
            (room_id,),
        ).fetchone()
    return None if row is None else (str(row[0]), int(row[1]), int(row[2]))


def test_the_queue_moves_every_page_to_the_next_episode_and_skips_together(
    browser: Any, stack: Stack, rooms: Rooms
) -> None:
    host, room_id = _host_room(browser, stack, "Queue night")
    rin = _member(browser, host, "Rin")
    clip = f"{stack.url}/demo/clip.mp4"

    # The host queues two episodes; the member's page shows them live, in order.
    _add_episode(host, 1, "The journey's end", f"{clip}?ep=1")
    _add_episode(host, 2, "It didn't have to be magic", f"{clip}?ep=2", opening=(0, 30))
    member_queue = rin.get_by_role("list", name="Queue").locator("li.queue-entry")
    until(lambda: member_queue.count() == 2, "the member's page lists both episodes")
    assert "The journey's end" in member_queue.nth(0).inner_text()
    assert "It didn't have to be magic" in member_queue.nth(1).inner_text()
    # A member sees the queue, not its controls.
    assert rin.get_by_role("button", name="Next episode", exact=True).count() == 0

    # Episode 1, then "Next episode": every page loads the second video, the room paused at 0.
    host.get_by_role("button", name="Play episode 1 now").click()
    until(lambda: _src(rin).endswith("?ep=1"), "the member's video loads episode 1")
    host.get_by_role("button", name="Next episode", exact=True).click()
    for page in (host, rin):
        until(lambda page=page: _src(page).endswith("?ep=2"), "every video loads episode 2")
        page.get_by_role("list", name="Queue").locator(
            "li.queue-entry.current", has_text="It didn't have to be magic"
        ).wait_for()
    assert _room_value(stack, room_id, "video_url") == f"{clip}?ep=2"
    assert _room_value(stack, room_id, "episode_number") == 2
    host.get_by_role("button", name="Play", exact=True).click()
    until(lambda: rooms.row(room_id).playing, "the room plays episode 2")
    _all_in_step([host, rin], rooms, room_id, playing=True)
    assert _src(host).endswith("?ep=2") and _src(rin).endswith("?ep=2")

    # The entry's opening (0 to 30 s) is marked: the host's skip button stands out while the
    # room is in it, and skipping moves every page to its end together.
    skip = host.get_by_role("button", name="Skip opening")
    until(lambda: "inside" in (skip.get_attribute("class") or ""), "skip opening stands out")
    skip.click()
    until(lambda: rooms.row(room_id).position >= 30, "the room skipped the opening")
    _all_in_step([host, rin], rooms, room_id, playing=True)
    assert probe(rin)["currentTime"] >= 30

    # Marking the ending from the page.
    marks = host.get_by_role("group", name="Skip")
    marks.get_by_text("Mark opening and ending").click()
    marks.get_by_label("Ending starts (s)").fill("100")
    marks.get_by_label("Ending ends (s)").fill("110")
    marks.get_by_role("button", name="Save marks").click()
    until(lambda: _room_value(stack, room_id, "ending_end") == 110, "the ending is marked")
    host.get_by_role("button", name="Skip ending").wait_for()

    # Reordering and removing reach the member live.
    host.get_by_role("button", name="Move episode 2 up").click()
    until(
        lambda: "It didn't have to be magic" in member_queue.nth(0).inner_text(),
        "the member's page shows episode 2 first",
    )
    host.get_by_role("button", name="Remove episode 1").click()
    until(lambda: member_queue.count() == 1, "the member's page drops episode 1")
    for page in (host, rin):
        page.context.close()


def test_a_ready_check_times_out_and_starts_every_page(
    browser: Any, stack: Stack, rooms: Rooms, tmp_path: Path
) -> None:
    host, room_id = _host_room(browser, stack, "Ready night")
    rin = _member(browser, host, "Rin")
    kai = _member(browser, host, "Kai")
    pages = [host, rin, kai]
    for page in pages:
        until(lambda page=page: page.locator("li.member").count() == 3, "three members shown")
    _add_episode(host, 2, "Next up", f"{stack.url}/demo/clip.mp4?ep=2")

    # The host opens a check to the next episode, 5 s to answer.
    host.get_by_label("Start anyway after (s)").fill("5")
    host.get_by_role("button", name="Ready check → next episode").click()
    for page in pages:
        banner = page.get_by_role("region", name="Ready check")
        banner.wait_for()
        banner.get_by_text("of 3 ready").wait_for()
        assert "with whoever is" in banner.inner_text()
    # The host lets the page answer once its video has loaded the episode; Rin presses Ready;
    # Kai does nothing.
    host_banner = host.get_by_role("region", name="Ready check")
    host_banner.get_by_label("Answer ready for me once my video has loaded the episode").check()
    host_banner.get_by_text("the page answered ready for you").wait_for()
    rin_banner = rin.get_by_role("region", name="Ready check")
    rin_banner.get_by_role("button", name="Ready", exact=True).click()
    rin.get_by_role("button", name="Not ready after all").wait_for()
    screenshot(rin, "web-ready-check", tmp_path)

    # The deadline passes: a page settles the check and the room starts with whoever is ready.
    until(lambda: (_ready_check(stack, room_id) or ("",))[0] == "timed_out", "the check timed out")
    assert _ready_check(stack, room_id) == ("timed_out", 2, 3)
    until(lambda: rooms.row(room_id).playing, "the room plays")
    for page in pages:
        page.get_by_role("region", name="Ready check").wait_for(state="hidden")
        until(lambda page=page: _src(page).endswith("?ep=2"), "every video plays episode 2")
    _all_in_step(pages, rooms, room_id, playing=True)
    for page in pages:
        page.context.close()


def test_a_cohost_controls_the_room_and_a_kick_removes_a_member(
    browser: Any, stack: Stack, rooms: Rooms
) -> None:
    host, room_id = _host_room(browser, stack, "Co-host night")
    rin = _member(browser, host, "Rin")
    until(lambda: host.locator("li.member").count() == 2, "the host's page shows Rin")
    assert rin.locator("li.member details").count() == 0  # a member moderates nobody

    # The host makes Rin a co-host: both pages show the badge; Rin's page shows the controls.
    rin_item = host.locator("li.member", has_text="Rin")
    rin_item.get_by_text("Manage").click()
    rin_item.get_by_role("button", name="Make co-host").click()
    for page in (host, rin):
        page.locator("li.member", has_text="Rin").locator(".badge", has_text="co-host").wait_for()
    rin.get_by_role("group", name="Host controls").wait_for()
    rin.get_by_text("The host made you a co-host").wait_for()
    assert probe(rin)["isCohost"]

    # Rin's play moves the whole room, the host's video included.
    rin.get_by_role("button", name="Play", exact=True).click()
    until(lambda: rooms.row(room_id).playing, "the co-host started the room")
    _all_in_step([host, rin], rooms, room_id, playing=True)
    assert not probe(host)["paused"]

    # The host revokes it, then kicks Rin: Rin's page leaves the room and says why.
    rin_item.get_by_role("button", name="Revoke co-host").click()
    rin.get_by_text("You are no longer a co-host").wait_for()
    rin.get_by_text("The host controls playback").wait_for()
    rin_item.get_by_role("button", name="Kick").click()
    rin.get_by_role("heading", name="Removed from this room").wait_for()
    rin.get_by_text("You were removed from this room").wait_for()
    until(lambda: host.locator("li.member").count() == 1, "the host's page drops Rin")
    assert rin.evaluate("() => window.watchiumRoom === undefined")
    for page in (host, rin):
        page.context.close()
