"""The host's viewer analytics in the browser: the Stats panel shows what ``rooms-stats`` says
(unique viewers, comments, the chart), on a phone-sized page; a member's page has no Stats button,
and the function's refusal reads as "only the host"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.web._browser import screenshot, until
from watchium_stack.harness import Stack

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}


def _figure(page: Any, name: str) -> str:
    """The text of one figure of the Stats panel's description list."""
    panel = page.get_by_role("region", name="Viewer stats")
    text: str = (
        panel.locator("dl div", has=page.locator("dt", has_text=name)).locator("dd").inner_text()
    )
    return text


def test_the_host_sees_viewers_comments_and_a_chart(
    browser: Any, stack: Stack, tmp_path: Path
) -> None:
    host = browser.new_context(viewport=PHONE).new_page()
    host.goto(stack.url + "/")
    host.get_by_label("Your name").fill("Mio")
    host.get_by_label("Title").fill("Stats night")
    host.get_by_label("Anime").fill("Frieren")
    host.get_by_role("button", name="Create room").click()
    host.get_by_role("group", name="Host controls").wait_for()

    member = browser.new_context().new_page()
    member.goto(host.get_by_label("Share link").input_value())
    member.get_by_text("The host controls playback").wait_for()
    member.get_by_role("textbox", name="Comment").fill("what a scene")
    member.get_by_role("textbox", name="Comment").press("Enter")
    host.get_by_role("list", name="Comments").get_by_text("what a scene").wait_for()
    host.get_by_role("heading", name="Members (2)").wait_for()

    # The member's page has no Stats button, and the function refuses it anyway.
    assert member.get_by_role("button", name="Stats").count() == 0
    member.evaluate("() => window.watchiumRoom.stats.open()")
    member.get_by_text("Only the host can see this room's stats.").wait_for()

    host.get_by_role("button", name="Stats").click()
    panel = host.get_by_role("region", name="Viewer stats")
    panel.get_by_role("img", name="Chart from").wait_for()
    assert _figure(host, "Unique viewers") == "2"
    assert _figure(host, "Comments").startswith("1 ")
    assert _figure(host, "Watching now") == "2"
    assert "1 comment" in panel.get_by_role("img").get_attribute("aria-label")
    assert panel.locator("rect.bar-viewers").count() >= 1
    assert panel.locator("rect.bar-comments").count() == 1

    # Refresh picks up what happened since: a second comment, from the host.
    host.get_by_role("textbox", name="Comment").fill("and another")
    host.get_by_role("textbox", name="Comment").press("Enter")
    host.get_by_role("list", name="Comments").get_by_text("and another").wait_for()
    panel.get_by_role("button", name="Refresh").click()
    until(lambda: _figure(host, "Comments").startswith("2 "), "the refreshed stats count 2")

    # Readable on a phone: nothing wider than the screen.
    assert host.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    panel.evaluate("(el) => el.scrollIntoView({ block: 'start' })")
    screenshot(host, "web-stats", tmp_path)

    panel.get_by_role("button", name="Close").click()
    panel.wait_for(state="hidden")
    member.context.close()
    host.context.close()
