"""Bulk-approve pending members through the admin action; print the time and query count.

    .venv/bin/python bench/approve.py [--members 1000]

Runs in-process with Django's test client on a fresh SQLite database (or DATABASE_URL),
POSTs the pending queue's "Approve selected members" action with "select all" for N
pending members, and prints the
wall time and the queries, for N and for 10 members to show the count does not grow with N
(the audit rows are one bulk INSERT, batched by the database backend). The approval e-mails
are sent in-process too (eager Celery, locmem mail): in production a worker sends them.
Goal: under 2 s for 1,000 members.
"""

import argparse
import time
import uuid

from _django import setup


def run(members: int) -> tuple[float, int, list[str]]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User
    from audit.models import AuditEvent

    run_id = uuid.uuid4().hex[:8]  # a database reused across runs keeps older rows
    admin = User.objects.create_superuser(username=f"bench-admin-{run_id}", password=None)
    User.objects.bulk_create(
        User(username=f"bench-{run_id}-{n}", email=f"bench-{n}@example.com") for n in range(members)
    )
    ids = list(
        User.objects.filter(username__startswith=f"bench-{run_id}-").values_list("pk", flat=True)
    )
    client = Client()
    client.force_login(admin)
    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        response = client.post(
            "/admin/accounts/pendingmember/",
            # "Select all N pending members" in the queue, then the action: how an admin
            # approves a thousand people (a thousand checkboxes would exceed Django's
            # DATA_UPLOAD_MAX_NUMBER_FIELDS anyway).
            {"action": "approve", "select_across": "1", "_selected_action": ids[:1], "index": 0},
        )
        elapsed = time.perf_counter() - start
    assert response.status_code == 302, response.status_code
    approved = User.objects.filter(pk__in=ids, membership="approved").count()
    assert approved == members, approved
    assert AuditEvent.objects.filter(target_id__in=ids, action="approve").count() == members
    return elapsed, len(queries), [q["sql"][:90] for q in queries.captured_queries]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1000)
    args = parser.parse_args()
    setup()
    small_time, small_queries, _ = run(10)
    big_time, big_queries, sqls = run(args.members)
    inserts = sum(1 for sql in sqls if sql.startswith('INSERT INTO "accounts_auditevent"'))
    print(f"approve     10 members: {small_time * 1000:7.1f} ms, {small_queries} queries")
    print(
        f"approve {args.members:6d} members: {big_time * 1000:7.1f} ms, {big_queries} queries "
        f"({inserts} bulk INSERT batch(es) of audit rows)"
    )
    print(f"goal: < 2000 ms -> {'met' if big_time < 2 else 'NOT met'}")


if __name__ == "__main__":
    main()
