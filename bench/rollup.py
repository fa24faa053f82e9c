"""The daily rollup job for a day of 2,000 checks at one scan a minute, and 30/90-day uptime
for them from 90 days of rollups, on PostgreSQL.

    createdb -h 127.0.0.1 -U postgres aixops_bench_rollup
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/aixops_bench_rollup \\
        .venv/bin/python bench/rollup.py [--checks 2000]

The script empties the health tables of that database, writes one day of results (a
result per check per minute, 1 in 97 down) with one INSERT … SELECT, and times
`rollups_build` over it; then writes 90 days of rollups per check and times
`uptime_over(30)` and `uptime_over(90)`. Each figure is the best of three runs.
Goals: the rollup of a day well within its hourly slot; 90-day uptime under 100 ms.
"""

import argparse
import os
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _django


def best_of(runs: int, call) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checks", type=int, default=2000)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a scratch PostgreSQL database (see the docstring).")
    _django.setup()

    from django.db import connection
    from django.utils import timezone

    from portal.history import rollups_build, uptime_over
    from portal.models import Category, HealthCheck, HealthRollup, Scan, Service

    HealthCheck.objects.all().delete()
    Service.objects.filter(slug__startswith="bench-").delete()
    category, _ = Category.objects.get_or_create(
        slug="bench", defaults={"name": "Bench", "title": "Bench", "summary": "bench"}
    )
    services = Service.objects.bulk_create(
        Service(category=category, slug=f"bench-{n}", name=f"Bench {n}", summary="")
        for n in range(args.checks)
    )
    HealthCheck.objects.bulk_create(
        HealthCheck(slug=f"bench-{n}", service=service, target=f"/bench/{n}")
        for n, service in enumerate(services)
    )
    zone = timezone.get_default_timezone()
    day = timezone.localdate() - timedelta(days=1)
    start = datetime.combine(day, datetime.min.time(), tzinfo=zone)
    scan = Scan.objects.create(state=Scan.State.FINISHED, started_at=start, finished_at=start)
    written = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO portal_checkresult
                (scan_id, health_check_id, checked_at, outcome, status, latency_ms, detail)
            SELECT %s, c.id, %s + make_interval(mins => m), 'up',
                   CASE WHEN (c.id + m) %% 97 = 0 THEN 'down' ELSE 'up' END, 12.5, ''
            FROM portal_healthcheck c CROSS JOIN generate_series(0, 1439) AS m
            """,
            [scan.pk, start],
        )
        cursor.execute("ANALYZE portal_checkresult")
    results = args.checks * 1440
    print(f"wrote {results:,} results for {day} in {time.perf_counter() - written:.1f} s")

    end_of_day = start + timedelta(hours=23, minutes=59)
    HealthRollup.objects.all().delete()
    seconds, summary = best_of(3, lambda: rollups_build(now=end_of_day))
    print(f"rollups_build, a day of {args.checks} checks: {seconds:.2f} s -> {summary}")

    HealthRollup.objects.all().delete()
    checks = list(HealthCheck.objects.values_list("pk", flat=True))
    HealthRollup.objects.bulk_create(
        (
            HealthRollup(health_check_id=pk, day=day - timedelta(days=n), total=1440, down=n % 5)
            for pk in checks
            for n in range(90)
        ),
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE portal_healthrollup")
    for days in (30, 90):
        seconds, uptimes = best_of(3, lambda days=days: uptime_over(days, today=day))
        print(f"uptime_over({days}) for {len(uptimes)} checks: {seconds * 1000:.0f} ms")


if __name__ == "__main__":
    main()
