from __future__ import annotations

import asyncio

from topchef.broker.notify import Notifier


async def test_notify_wakes_oldest_waiter() -> None:
    notifier = Notifier()
    with notifier.waiter("s") as first, notifier.waiter("s") as second:
        woken = notifier.notify("s")

        assert woken == 1
        assert first.woken
        assert not second.woken


async def test_wait_returns_false_on_timeout() -> None:
    notifier = Notifier()
    with notifier.waiter("s") as waiter:
        assert await waiter.wait(0.01) is False


async def test_unused_wake_passes_to_next_waiter() -> None:
    notifier = Notifier()
    second = notifier.waiter("s")
    with notifier.waiter("s") as first:
        second.__enter__()
        notifier.notify("s")
        assert first.woken
        assert not second.woken

    assert second.woken
    second.__exit__(None, None, None)


async def test_used_wake_is_not_passed_on() -> None:
    notifier = Notifier()
    second = notifier.waiter("s")
    with notifier.waiter("s") as first:
        second.__enter__()
        notifier.notify("s")
        assert await first.wait(1) is True

    assert not second.woken
    second.__exit__(None, None, None)


async def test_cancelled_wait_passes_wake_on() -> None:
    notifier = Notifier()
    other = notifier.waiter("s")
    other.__enter__()

    async def wait_then_vanish() -> None:
        with notifier.waiter("s") as waiter:
            await waiter.wait(10)

    # The other waiter registered first, so the first wake goes to it; the
    # task's waiter is woken second and then cancelled before it can claim.
    task = asyncio.create_task(wait_then_vanish())
    await asyncio.sleep(0)
    notifier.notify("s", count=2)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

    assert other.woken
    assert notifier.waiting("s") == 1
    other.__exit__(None, None, None)
    assert notifier.waiting() == 0


async def test_notify_all_wakes_every_waiter() -> None:
    notifier = Notifier()
    with notifier.waiter("j") as first, notifier.waiter("j") as second:
        assert notifier.notify_all("j") == 2
        assert first.woken
        assert second.woken
