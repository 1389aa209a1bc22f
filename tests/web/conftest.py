"""The browser tests drive Debian's chromium through Playwright against the session's gateway
(the ``stack`` fixture), which serves the built page at ``/``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bench._common import chromium_path
from tests.web._browser import Rooms, require_built_page
from watchium_stack.harness import Stack


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    require_built_page()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path())
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def rooms(stack: Stack) -> Iterator[Rooms]:
    reader = Rooms(stack.db_url)
    try:
        yield reader
    finally:
        reader.close()
