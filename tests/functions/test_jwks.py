"""The published keys as the functions fetch them (:class:`RemoteJwks`) from a real HTTP server:
cached, fetched again for an unknown kid (a bounded number of times), bounded in time and size,
and the last good set kept while the server fails."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from watchium_functions.jwks import RemoteJwks
from watchium_functions.tokens import KeysUnavailable
from watchium_stack.keys import new_signing_key

FIRST = new_signing_key("ES256", "in_use")
SECOND = new_signing_key("ES256", "standby")


@dataclass
class KeyServer:
    """Serves ``document`` at /jwks.json; counts requests; can hold answers or send junk."""

    url: str
    document: Any = field(default_factory=lambda: {"keys": [FIRST.public_jwk]})
    requests: int = 0
    status: int = 200
    body: bytes | None = None
    hold: threading.Event | None = None


@pytest.fixture
def key_server() -> Iterator[KeyServer]:
    state = KeyServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
            state.requests += 1
            if state.hold is not None:
                state.hold.wait(30)
            body = state.body if state.body is not None else json.dumps(state.document).encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    try:
        yield state
    finally:
        if state.hold is not None:
            state.hold.set()
        server.shutdown()
        server.server_close()


async def test_the_key_set_is_fetched_once_and_cached(key_server: KeyServer) -> None:
    jwks = RemoteJwks(key_server.url)
    for _ in range(5):
        assert set(await jwks.keys()) == {FIRST.kid}
    assert key_server.requests == 1


async def test_a_stale_set_is_fetched_again(key_server: KeyServer) -> None:
    jwks = RemoteJwks(key_server.url, ttl=0)
    await jwks.keys()
    version = jwks.version
    key_server.document = {"keys": [SECOND.public_jwk]}  # the first key revoked
    assert set(await jwks.keys()) == {SECOND.kid}
    assert jwks.version != version and key_server.requests == 2


async def test_an_unknown_kid_refreshes_a_bounded_number_of_times(key_server: KeyServer) -> None:
    jwks = RemoteJwks(key_server.url, refreshes=2, refresh_window=3600)
    await jwks.keys()
    key_server.document = {"keys": [FIRST.public_jwk, SECOND.public_jwk]}
    assert SECOND.kid in await jwks.refresh(SECOND.kid)
    assert key_server.requests == 2
    assert SECOND.kid in await jwks.refresh(SECOND.kid)  # known now: no fetch
    # Made-up kids: one more fetch, then none (the window's refreshes are spent).
    for n in range(5):
        await jwks.refresh(f"made-up-{n}")
    assert key_server.requests == 3


async def test_a_fetch_is_bounded_in_size(key_server: KeyServer) -> None:
    key_server.body = b'{"keys": [' + b" " * 4096 + b"]}"
    with pytest.raises(KeysUnavailable):
        await RemoteJwks(key_server.url, max_bytes=1024).keys()


async def test_a_fetch_is_bounded_in_time(key_server: KeyServer) -> None:
    key_server.hold = threading.Event()  # the server answers only when the test is over
    with pytest.raises(KeysUnavailable):
        await RemoteJwks(key_server.url, timeout=0.2).keys()


@pytest.mark.parametrize("failure", ["status", "junk"])
async def test_while_the_server_fails_the_last_set_stays(
    key_server: KeyServer, failure: str
) -> None:
    jwks = RemoteJwks(key_server.url, ttl=0, retry_after=0)
    assert set(await jwks.keys()) == {FIRST.kid}
    if failure == "status":
        key_server.status = 500
    else:
        key_server.body = b"<html>maintenance</html>"
    assert set(await jwks.keys()) == {FIRST.kid}
    assert key_server.requests == 2


def test_only_http_urls_are_fetched() -> None:
    with pytest.raises(ValueError, match="http"):
        RemoteJwks("file:///etc/passwd")
