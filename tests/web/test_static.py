"""The gateway serves the web app at ``/``: the page, its ``config.json`` and the demo clip with
HTTP Range requests (what a <video> needs to seek), and nothing outside the built folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests._pg import PROJECT_DIR
from tests.web._browser import WEB_DIST, require_built_page
from watchium_stack._static import DEMO_CLIP, StaticSite, _parse_range, seed_video_urls
from watchium_stack.harness import Stack


@pytest.fixture(scope="module")
def http(stack: Stack) -> Iterator[httpx.Client]:
    require_built_page()
    with httpx.Client(base_url=stack.url, timeout=30) as client:
        yield client


def test_the_page_and_its_config(http: httpx.Client, stack: Stack) -> None:
    page = http.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="app.js">' in page.text
    assert http.get("/app.js").headers["content-type"].startswith("text/javascript")
    config = http.get("/config.json").json()
    assert config["publishableKey"] == stack.publishable_key
    assert config["supabaseUrl"] is None  # the page talks to the origin it came from
    assert config["demoClip"] == DEMO_CLIP
    seeds = seed_video_urls(PROJECT_DIR / "supabase" / "seed.sql")
    assert len(seeds) == 2
    assert config["videoAliases"] == dict.fromkeys(seeds, DEMO_CLIP)


def test_the_clip_answers_range_requests(http: httpx.Client) -> None:
    size = (WEB_DIST / DEMO_CLIP).stat().st_size
    whole = http.head("/demo/clip.mp4")
    assert whole.status_code == 200
    assert whole.headers["accept-ranges"] == "bytes"
    assert int(whole.headers["content-length"]) == size
    part = http.get("/demo/clip.mp4", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-199/{size}"
    assert part.content == (WEB_DIST / DEMO_CLIP).read_bytes()[100:200]
    tail = http.get("/demo/clip.mp4", headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and len(tail.content) == 10
    beyond = http.get("/demo/clip.mp4", headers={"Range": f"bytes={size}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{size}"


def test_the_api_keeps_its_answers(http: httpx.Client) -> None:
    missing = http.get("/no-such-file.js")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "WH404"
    assert http.post("/").status_code == 404  # the page is GET only
    assert http.get("/health").json()["database"] is True


def test_nothing_outside_the_built_folder(tmp_path: Path) -> None:
    root = tmp_path / "dist"
    root.mkdir()
    (root / "index.html").write_text("page")
    (root / ".secret").write_text("no")
    (tmp_path / "outside.txt").write_text("no")
    site = StaticSite(root, publishable_key="k", seed_file=tmp_path / "none.sql")
    assert site._file("/") == root / "index.html"
    assert site._file("/.secret") is None
    assert site._file("/../outside.txt") is None
    assert site._file("/%2e%2e/outside.txt") is None
    assert site.config()["videoAliases"] == {}  # no clip: no aliases


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-9", (0, 9)),
        ("bytes=5-", (5, 99)),
        ("bytes=-20", (80, 99)),
        ("bytes=90-200", (90, 99)),
        ("bytes=100-", None),
        ("bytes=9-5", None),
        ("bytes=-", None),
        ("bytes=0-1,5-6", None),
        ("items=0-5", None),
    ],
)
def test_range_headers(header: str, expected: tuple[int, int] | None) -> None:
    assert _parse_range(header, 100) == expected
