"""Autoplay as browsers ship it: a member who opens a playing room without having clicked
anything may not start a video with sound. The page plays it muted, in step, and offers to
unmute; one click brings the sound back.

Headless Chromium lets every page autoplay whatever its ``--autoplay-policy``, so the rule of
desktop Chromium (sound needs a user activation) is applied to the member's page by an init
script on ``HTMLMediaElement.play``: it refuses exactly as Chromium does (a ``NotAllowedError``)
while the element is not muted and the page has had no click, tap or key press (tracked from
trusted input events: Playwright's own evaluations count as user gestures for
``navigator.userActivation``). The rest is real.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.web._browser import (
    SYNCED,
    Rooms,
    probe,
    until,
    video_offset,
)
from watchium_stack.harness import Stack

pytestmark = [pytest.mark.browser, pytest.mark.slow]


DESKTOP_AUTOPLAY_RULE = """
(() => {
  let activated = false;
  for (const name of ['pointerdown', 'keydown', 'click']) {
    addEventListener(name, (event) => { if (event.isTrusted) activated = true; }, true);
  }
  const play = HTMLMediaElement.prototype.play;
  HTMLMediaElement.prototype.play = function () {
    if (!this.muted && !activated) {
      return Promise.reject(new DOMException(
        "play() failed because the user didn't interact with the document first.",
        'NotAllowedError'));
    }
    return play.call(this);
  };
})();
"""


def test_a_refused_autoplay_plays_muted_and_offers_the_sound(
    browser: Any, stack: Stack, rooms: Rooms
) -> None:
    host = browser.new_page()
    host.goto(stack.url + "/")
    host.get_by_label("Title").fill("Autoplay")
    host.get_by_label("Anime").fill("Mushishi")
    host.get_by_role("button", name="Create room").click()
    host.get_by_role("button", name="Play").click()  # a click: the host's page may play
    share = host.get_by_label("Share link").input_value()
    room_id = share.split("#/room/")[1]
    until(lambda: rooms.row(room_id).playing, "the room plays")

    member = browser.new_context().new_page()
    member.add_init_script(DESKTOP_AUTOPLAY_RULE)
    member.goto(share)  # no click on this page yet
    unmute = member.get_by_role("button", name="Sound is off", exact=False)
    unmute.wait_for()
    assert probe(member)["paused"] is False
    assert member.evaluate("document.querySelector('video').muted") is True
    until(
        lambda: abs(video_offset(member, rooms, room_id)) <= SYNCED,
        "the muted video is in step with the room",
    )
    unmute.click()
    until(
        lambda: member.evaluate("!document.querySelector('video').muted"),
        "the sound is back after the click",
    )
    assert probe(member)["paused"] is False
    member.context.close()
    host.close()
