"""One JSON IPC connection to mpv: requests and their replies, events, property observation.

The protocol (https://mpv.io/manual/stable/#json-ipc) is one JSON object per line over a unix
socket. A command carries a ``request_id`` that its reply echoes; every other message is an
event, among them ``property-change`` for each property observed with ``observe_property``. mpv
writes replies and events in the order it makes them, and one reader task hands them on in that
order, calling the listeners synchronously: by the time a command's caller resumes, the listeners
have seen every event mpv wrote before the reply.

The connection knows nothing of players: `MpvPlayer` gives meaning to the events; the connection
only turns a reply into a return value or a `PlayerError`, and mpv going away into
`PlayerClosedError` for every request in flight and every one after.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from watchium_client.players._protocol import PlayerClosedError, PlayerError

__all__ = ["MpvConnection"]

logger = logging.getLogger(__name__)


class MpvConnection:
    """A JSON IPC connection to one mpv, from an open unix socket stream.

    Args:
        on_event: called with the name and the whole message of each event except
            ``property-change``.
        on_property: called with the name and the new value of an observed property (mpv also
            reports each property once, with its current value, when it is first observed).
        on_closed: called once, with the reason, when the connection ends for any reason.
        request_timeout: seconds to wait for a reply.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        on_event: Callable[[str, dict[str, Any]], None],
        on_property: Callable[[str, Any], None],
        on_closed: Callable[[str], None],
        request_timeout: float = 5.0,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._on_event = on_event
        self._on_property = on_property
        self._on_closed = on_closed
        self._request_timeout = request_timeout
        self._next_id = 0
        self._next_observer = 0
        self._replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._closed = False
        self._close_reason = "the connection is closed"
        self._reader_task = asyncio.create_task(self._read_loop(), name="watchium-mpv-ipc")

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def close_reason(self) -> str:
        """Why the connection ended (mpv quit, the socket failed, or `close`)."""
        return self._close_reason

    def check_open(self) -> None:
        """Raises `PlayerClosedError` (saying why) once the connection has ended."""
        if self._closed:
            raise PlayerClosedError(f"mpv is not available: {self._close_reason}")

    async def command(self, *args: Any) -> Any:
        """Sends an mpv command and returns its ``data``.

        Raises:
            PlayerError: mpv answered with an error, or did not answer in time.
            PlayerClosedError: mpv is gone.
        """
        reply = await self.request(list(args))
        if reply.get("error") != "success":
            raise PlayerError(f"mpv {args[0]} failed: {reply.get('error')}")
        return reply.get("data")

    async def get_property(self, name: str) -> Any:
        """Reads an mpv property (None when mpv says it is unavailable).

        Raises:
            PlayerError: mpv refused the request for another reason.
        """
        try:
            return await self.command("get_property", name)
        except PlayerError as exc:
            if "property unavailable" in str(exc):
                return None
            raise

    async def set_property(self, name: str, value: Any) -> None:
        """Sets an mpv property."""
        await self.command("set_property", name, value)

    async def observe(self, *names: str) -> None:
        """Asks mpv to report every change of these properties to ``on_property``."""
        for name in names:
            self._next_observer += 1
            await self.command("observe_property", self._next_observer, name)

    async def request(self, command: list[Any]) -> dict[str, Any]:
        """Sends one command and returns mpv's whole reply, error or not.

        Raises:
            PlayerError: no reply within the request timeout.
            PlayerClosedError: mpv is gone, or the socket failed.
        """
        self.check_open()
        self._next_id += 1
        request_id = self._next_id
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[request_id] = future
        line = json.dumps({"command": command, "request_id": request_id}) + "\n"
        try:
            self._writer.write(line.encode())
            await self._writer.drain()
            # Not asyncio.wait_for: on Python 3.11 it loses a cancellation that arrives with the
            # reply, and a sync engine being stopped would tick on (watchium_client._aio).
            async with asyncio.timeout(self._request_timeout):
                return await future
        except TimeoutError as exc:
            raise PlayerError(
                f"mpv did not answer {command[0]!r} within {self._request_timeout:g} s"
            ) from exc
        except (ConnectionError, OSError) as exc:
            self._shutdown(f"the IPC connection failed ({exc})")
            raise PlayerClosedError(f"mpv is not available: {self._close_reason}") from exc
        finally:
            self._replies.pop(request_id, None)

    async def close(self, reason: str) -> None:
        """Ends the connection (``on_closed`` is called with ``reason`` unless it had ended)."""
        self._shutdown(reason)
        self._reader_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader_task
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()

    async def _read_loop(self) -> None:
        reason = "mpv closed the IPC connection (it quit or crashed)"
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    break
                try:
                    message = json.loads(line)
                except json.JSONDecodeError:
                    logger.warning("mpv sent a line that is not JSON: %r", line[:200])
                    continue
                if not isinstance(message, dict):
                    continue
                if "event" in message:
                    self._dispatch(message)
                elif "request_id" in message:
                    # A reply to a request that timed out has no future any more: dropped.
                    future = self._replies.get(message["request_id"])
                    if future is not None and not future.done():
                        future.set_result(message)
        except (ConnectionError, OSError) as exc:
            reason = f"the IPC connection failed ({exc})"
        except asyncio.CancelledError:
            return
        self._shutdown(reason)

    def _dispatch(self, message: dict[str, Any]) -> None:
        event = message["event"]
        if event == "property-change":
            self._on_property(str(message.get("name")), message.get("data"))
        else:
            self._on_event(str(event), message)

    def _shutdown(self, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        self._close_reason = reason
        logger.debug("mpv IPC connection closed: %s", reason)
        error = PlayerClosedError(f"mpv is not available: {reason}")
        for future in self._replies.values():
            if not future.done():
                future.set_exception(error)
        self._on_closed(reason)
