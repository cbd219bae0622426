"""Listing over HTTP: order, filters, and pages that follow the Link header."""

from __future__ import annotations

import re

import pytest
from support import REPORT, FakeClock, settle, submit, sum_of

from taskmanager.http.routes import tasks as routes_tasks

# Every test here runs on both backends: in memory, and on Redis.
pytestmark = pytest.mark.backends("memory", "redis")


NEXT = re.compile(r'^<(?P<url>[^>]+)>; rel="next"$')


@pytest.fixture(params=[True, False], ids=["fast-path", "routes"])
def fast_path(request) -> bool:
    return request.param


def next_page(response) -> str | None:
    link = response.headers.get("link")
    if link is None:
        return None
    match = NEXT.match(link)
    assert match, link
    return match["url"]


async def test_newest_first_puts_the_last_submission_on_top(client):
    ids = [await submit(client) for _ in range(5)]
    newest = (await client.get("/tasks", params={"order": "newest"})).json()
    assert [task["task_id"] for task in newest] == ids[::-1]
    first_three = (await client.get("/tasks", params={"order": "newest", "limit": 3})).json()
    assert [task["task_id"] for task in first_three] == ids[:1:-1]


async def test_the_task_type_filter_keeps_only_that_type(client):
    sums = [await submit(client) for _ in range(2)]
    reports = [await submit(client, REPORT) for _ in range(2)]
    listed = (await client.get("/tasks", params={"task_type": "generate_report"})).json()
    assert [task["task_id"] for task in listed] == reports
    both = await client.get("/tasks", params={"task_type": "compute_sum", "status": "processing"})
    assert [task["task_id"] for task in both.json()] == sums


async def test_a_page_with_more_behind_it_links_to_the_next_one_and_the_last_does_not(client):
    ids = [await submit(client) for _ in range(5)]
    first = await client.get("/tasks", params={"limit": 2, "status": "processing"})
    assert [task["task_id"] for task in first.json()] == ids[:2]
    url = next_page(first)
    assert url is not None
    assert "status=processing" in url
    assert "limit=2" in url
    second = await client.get(url)
    assert [task["task_id"] for task in second.json()] == ids[2:4]
    third = await client.get(next_page(second))
    assert [task["task_id"] for task in third.json()] == ids[4:]
    assert next_page(third) is None
    exactly = await client.get("/tasks", params={"limit": 5})
    assert next_page(exactly) is None


@pytest.mark.parametrize("order", ["oldest", "newest"])
async def test_following_the_pages_skips_and_repeats_nothing_while_tasks_come_and_go(
    make_client, clock: FakeClock, order
):
    client = await make_client(result_ttl=30, workers=1)
    # The three in the middle finish, and expire after the first page; the others stay.
    staying = [await submit(client, sum_of(n, delay=3600)) for n in range(10)]
    expiring = [await submit(client, sum_of(n)) for n in range(3)]
    staying += [await submit(client, sum_of(n, delay=3600)) for n in range(10)]
    seen: list[str] = []
    url: str | None = f"/tasks?limit=4&order={order}"
    pages = 0
    while url is not None:
        response = await client.get(url)
        assert response.status_code == 200
        seen += [task["task_id"] for task in response.json()]
        url = next_page(response)
        pages += 1
        # Between two pages new tasks arrive; after the first, the finished ones expire.
        await submit(client, sum_of(pages))
        await clock.advance(60 if pages == 1 else 1)
    assert len(seen) == len(set(seen)), "a task was repeated"
    assert set(staying) <= set(seen), "a task that stayed was skipped"
    assert pages >= 5
    assert not set(expiring) & set(seen), "the finished tasks expired between pages"


@pytest.mark.parametrize(
    "cursor", ["nope", "c", "C12", "c-1", "c" + "z" * 14, "c12 ", "\x00"], ids=repr
)
async def test_a_malformed_cursor_answers_400(client, cursor):
    response = await client.get("/tasks", params={"cursor": cursor, "limit": 2})
    assert response.status_code == 400
    assert "cursor" in response.json()["detail"]


@pytest.mark.parametrize("query", [{"order": "random"}, {"task_type": "mine_bitcoin"}])
async def test_an_unknown_order_or_task_type_answers_400(client, query):
    response = await client.get("/tasks", params=query)
    assert response.status_code == 400
    assert next(iter(query)) in response.json()["detail"]


async def test_a_listing_without_limit_streams_every_task_page_by_page(client, monkeypatch):
    monkeypatch.setattr(routes_tasks, "LIST_PAGE", 10)  # the store is read 10 tasks at a time
    ids = [await submit(client) for _ in range(25)]
    await settle()
    listed = (await client.get("/tasks")).json()
    assert [task["task_id"] for task in listed] == ids


@pytest.mark.parametrize("order", ["oldest", "newest"])
async def test_each_status_lists_its_own_tasks_page_by_page_in_either_order(
    make_client, clock: FakeClock, order
):
    client = await make_client(workers=3)
    done = [await submit(client, sum_of(n)) for n in range(3)]
    await clock.advance(60)
    running = [await submit(client, sum_of(n)) for n in range(3)]
    queued = [await submit(client, sum_of(n)) for n in range(2)]  # every worker is busy
    await settle()
    for status, ids in (("completed", done), ("processing", running), ("queued", queued)):
        expected = ids if order == "oldest" else ids[::-1]
        listed: list[str] = []
        url: str | None = f"/tasks?status={status}&order={order}&limit=2"
        while url is not None:
            response = await client.get(url)
            listed += [task["task_id"] for task in response.json()]
            url = next_page(response)
        assert listed == expected, status
