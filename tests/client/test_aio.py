"""wait_event: a cancellation that arrives as the event is set is not lost."""

from __future__ import annotations

import asyncio

import pytest

from watchium_client._aio import wait_event


async def test_returns_whether_the_event_was_set() -> None:
    event = asyncio.Event()
    assert not await wait_event(event, 0.01)
    event.set()
    assert await wait_event(event, 10)


async def test_a_loop_woken_and_cancelled_at_once_ends() -> None:
    event = asyncio.Event()

    async def loop() -> None:
        while True:
            event.clear()
            await wait_event(event, 10)

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)  # the loop is waiting
    event.set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
