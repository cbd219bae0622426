"""``list`` follows the Link pages lazily and misses nothing while tasks keep coming."""

from __future__ import annotations

import asyncio

from taskmanager.client import TaskStatus


async def submit(api, number: int):
    """A task that stays queued; its id."""
    return (await api.submit("compute_sum", {"numbers": [number]}, delay=60)).task_id


async def test_paging_across_many_pages_while_tasks_are_submitted_skips_and_repeats_nothing(
    api,
):
    before = [await submit(api, n) for n in range(25)]
    seen, added = [], []
    async for task in api.list(page_size=4):
        seen.append(task.task_id)
        if len(seen) % 4 == 1:
            # While a page is read, a task joins the end; the pages still to come show it.
            added.append(await submit(api, 0))
    # Only the task added while the last page was read comes after the listing's end.
    assert seen == before + added[:-1]
    pages = [r for r in api.recorder.requests if r.method == "GET" and r.url.path == "/tasks"]
    assert len(pages) == len(added) == 8  # (25 + 7) tasks, 4 a page


async def test_pages_are_asked_for_only_as_they_are_read(api):
    for n in range(10):
        await api.submit("compute_sum", {"numbers": [n]}, delay=60)
    listing = api.list(page_size=3)
    first = await anext(listing)
    assert first.status is TaskStatus.QUEUED
    pages = [r for r in api.recorder.requests if r.url.path == "/tasks" and r.method == "GET"]
    assert len(pages) == 1
    await listing.aclose()


async def test_newest_first_across_pages_while_tasks_are_cancelled(api):
    ids = [await submit(api, n) for n in range(12)]
    seen = []
    async for task in api.list(order="newest", page_size=5):
        seen.append(task.task_id)
        if len(seen) == 5:
            await asyncio.gather(*(api.cancel(task_id) for task_id in ids[:3]))
    # Cancelling changes a task, not its place: all twelve, newest first, once each.
    assert seen == ids[::-1]
