"""Members at scale: the pending queue, its search, and bulk approval by a filter.

    .venv/bin/python bench/approve.py [--population 50000] [--members 1000]

Runs in-process (pages through Django's WSGI handler, the approval through its test
client) on a fresh SQLite database, or on DATABASE_URL (PostgreSQL: the figures that
matter). A population of pending members, all named
`bench-pop-…`, is made once and kept for later runs on the same database. The script
prints, as medians of 5, the pending queue's first page and a few searches in it, then
approves N members of its own (named `bench-<run>-…`) with "select all N matching" on the
queue filtered by a search for that name, as an admin would, and does the same for 10 to
show the query count does not grow with N. Only the members a run made are approved; the
population stays pending.

The approval e-mails are sent in-process too (eager Celery, locmem mail): in production a
worker sends them. Goals at 50,000 members: the queue under 100 ms, a search under 150 ms,
approving 1,000 under 2 s.
"""

import argparse
import statistics
import time
import uuid
from datetime import timedelta

from _django import machine, setup

QUEUE = "/admin/accounts/pendingmember/"
MEMBERS = "/admin/accounts/user/"
FIRST_NAMES = ["Jiwoo", "Minseo", "Alex", "Sam", "Hana", "Daniel", "Yuna", "Chris"]
LAST_NAMES = ["Kim", "Lee", "Park", "Choi", "Smith", "Jones", "Jung", "Kang"]


def make_population(size: int) -> None:
    """Pending members `bench-pop-0` … up to `size`, joined a minute apart; kept."""
    from django.db import connection
    from django.utils import timezone

    from accounts.models import User

    have = User.objects.filter(username__startswith="bench-pop-").count()
    now = timezone.now()
    for start in range(have, size, 5000):
        User.objects.bulk_create(
            User(
                username=f"bench-pop-{n}",
                email=f"pop{n}@example.com",
                first_name=FIRST_NAMES[n % len(FIRST_NAMES)],
                last_name=LAST_NAMES[n // len(FIRST_NAMES) % len(LAST_NAMES)],
                date_joined=now - timedelta(minutes=n),
            )
            for n in range(start, min(size, start + 5000))
        )
    if have < size and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # What autovacuum would do before long: the planner's figures for the new rows.
            cursor.execute("ANALYZE accounts_user")


def timed_get(cookie: str, url: str) -> tuple[float, float, int]:
    """The median wall and CPU time of 5 GETs of `url` by the signed-in admin (`cookie`),
    in ms, and the queries of one. Straight through Django's WSGI handler, as gunicorn
    calls it: the test client would add its own work (a copy of every template's context).
    The CPU time is this process's alone, a figure other load on the machine hardly moves."""
    from wsgiref.util import setup_testing_defaults

    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    handler = WSGIHandler()
    path, _, query = url.partition("?")
    statuses = []
    walls, cpus = [], []
    for _ in range(5):
        environ = {"PATH_INFO": path, "QUERY_STRING": query, "HTTP_COOKIE": cookie}
        setup_testing_defaults(environ)
        with CaptureQueriesContext(connection) as queries:
            wall, cpu = time.perf_counter(), time.process_time()
            b"".join(handler(environ, lambda status, headers: statuses.append(status)))
            walls.append((time.perf_counter() - wall) * 1000)
            cpus.append((time.process_time() - cpu) * 1000)
    assert set(statuses) == {"200 OK"}, (url, statuses)
    return statistics.median(walls), statistics.median(cpus), len(queries)


def approve_own(client, members: int) -> tuple[float, int]:
    """Make `members` pending members of this run and approve them, and only them, with
    "select all" on the queue filtered to their names; (ms, queries)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User

    prefix = f"bench-{uuid.uuid4().hex[:8]}-"
    User.objects.bulk_create(
        User(username=f"{prefix}{n}", email=f"{prefix}{n}@example.com") for n in range(members)
    )
    one = User.objects.filter(username=f"{prefix}0").values_list("pk", flat=True)
    pending_before = User.objects.filter(membership="pending").count()
    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        response = client.post(
            f"{QUEUE}?q={prefix}",
            # "Select all N matching" and the action, as the changelist posts them: one
            # checkbox and `select_across`, never N fields.
            {"action": "approve", "select_across": "1", "_selected_action": list(one), "index": 0},
        )
        elapsed = (time.perf_counter() - start) * 1000
    assert response.status_code == 302, response.status_code
    approved = User.objects.filter(username__startswith=prefix, membership="approved").count()
    assert approved == members, approved
    left = User.objects.filter(membership="pending").count()
    assert left == pending_before - members, "approved members it did not make"
    return elapsed, len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", type=int, default=50000)
    parser.add_argument("--members", type=int, default=1000)
    args = parser.parse_args()
    setup()
    from django.test import Client

    from accounts.models import User

    print(f"machine: {machine()}")
    make_population(args.population)
    admin, _ = User.objects.get_or_create(
        username="bench-admin",
        defaults={"is_staff": True, "is_superuser": True, "membership": "approved"},
    )
    client = Client()
    client.force_login(admin)
    cookie = "; ".join(f"{name}={morsel.value}" for name, morsel in client.cookies.items())
    pending = User.objects.filter(membership="pending").count()
    print(f"pending members: {pending}")
    for label, url in [
        ("pending queue, first page", QUEUE),
        ("search a username", f"{QUEUE}?q=bench-pop-4242"),
        ("search an e-mail", f"{QUEUE}?q=pop31337@example.com"),
        ("search a name (many match)", f"{QUEUE}?q=jiwoo"),
        ("search two words", f"{QUEUE}?q=minseo+park"),
        ("search, nobody matches", f"{QUEUE}?q=nosuchperson"),
        ("member list, search e-mail", f"{MEMBERS}?q=pop31337@example.com"),
    ]:
        wall, cpu, queries = timed_get(cookie, url)
        print(f"{label:28s} {wall:7.1f} ms ({cpu:5.1f} ms CPU), {queries} queries")
    for members in (10, args.members):
        ms, queries = approve_own(client, members)
        print(f"approve {members:5d} by a filter: {ms:7.1f} ms, {queries} queries")
    print("goals: queue < 100 ms, search < 150 ms, approve 1000 < 2000 ms")


if __name__ == "__main__":
    main()
