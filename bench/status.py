"""The status page and a 90-day uptime query for 2,000 items with 90 days of rollups each,
on PostgreSQL: server time of each.

    createdb -h 127.0.0.1 -U postgres aixops_bench_status
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/aixops_bench_status \\
        .venv/bin/python bench/status.py [--items 2000]

The script empties the catalog and health tables of that database, writes 20 categories of
items (4 services to a data store), a check each and its rollups for 90 days as the scans
and compaction leave them: a row per day, and per hour for the last HOURLY_DAYS days up to
this hour (INSERT … SELECT), then times, best of five:
- setting the rollups' running totals (`count_running_totals`): once over the whole
  history (as after the upgrade), then an hour's rows (as the hourly job does);
- the 90-day uptime of every item, per day (`daily_counts`, what the bars are drawn from);
- the status report (`status_report`, /api/status/'s: ten queries and the objects), and
  with the days before today cached (`status_history`): seven;
- what the page computes after a scan (`status_now`: statuses, today's bar, SLOs and the
  90-day uptime of every item), the days before today and today's closed hours cached;
- the status page as a member gets it with its cache cold (report, template, response),
  and in another language (its frame rendered, the days before today kept);
- the status page as a day's first reader gets it, the days before today summed by the
  prerender task that the day's first scan queued (and the task's time);
- the status page after a new scan (best and median): the frame kept, statuses and
  today's last two hours new;
- the status page from its cache;
- `/api/status/` after a new scan (the days before today kept) and from its cache;
- the status page after a catalog write that leaves what the days are drawn from (a
  service renamed): its frame rendered again, the days before today kept.
Goal: under 100 ms server time for the page and its 90-day figures (after a scan: the
days before today are summed once a day, or when what they are drawn from changes).
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _django

CATEGORIES = 20
DAYS = 90


def timed(runs: int, call) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return times, result


def best_of(runs: int, call) -> tuple[float, object]:
    times, result = timed(runs, call)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=2000)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a scratch PostgreSQL database (see the docstring).")
    # The page's cache in this process: the cold runs empty it, which must touch no
    # shared cache.
    os.environ["CACHE_URL"] = "locmemcache://bench-status"
    _django.setup()

    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from accounts.models import User
    from portal import rollups
    from portal.models import Category, DataStore, HealthCheck, HealthRollup, Scan, Service
    from portal.pages import cached_status_frame, page_state, status_today_counts
    from portal.prerender import pages_prerender
    from portal.selectors import daily_counts, status_history, status_now, status_report
    from portal.visibility import Reader
    from tests.factories import make_finished_scan

    HealthCheck.objects.all().delete()
    Category.objects.all().delete()
    per_category = args.items // CATEGORIES
    for c in range(CATEGORIES):
        category = Category.objects.create(
            slug=f"bench-{c}", name=f"Bench {c}", title=f"Bench {c}", summary="bench", position=c
        )
        stores = per_category // 5
        services = Service.objects.bulk_create(
            Service(category=category, slug=f"b{c}-svc-{n}", name=f"Service {c}.{n}", summary="")
            for n in range(per_category - stores)
        )
        data_stores = DataStore.objects.bulk_create(
            DataStore(
                category=category,
                slug=f"b{c}-store-{n}",
                name=f"Store {c}.{n}",
                kind=DataStore.Kind.RELATIONAL,
                description="",
                slo_target=99.5 if n % 2 else None,
            )
            for n in range(stores)
        )
        HealthCheck.objects.bulk_create(
            [HealthCheck(slug=s.slug, service=s, target="/", status="up") for s in services]
            + [
                HealthCheck(slug=s.slug, data_store=s, kind="tcp", target="db:5432", status="up")
                for s in data_stores
            ]
        )
    Service.objects.filter(pk__in=list(Service.objects.values_list("pk", flat=True))[::3]).update(
        slo_target=99.9
    )
    today = timezone.localdate()
    now = timezone.now()
    Scan.objects.create(state=Scan.State.FINISHED, started_at=now, finished_at=now)
    with connection.cursor() as cursor:
        # A row per day once compacted; the last HOURLY_DAYS days (today's whole day, as
        # at its end) a row per hour, as the scans leave them.
        cursor.execute(
            """
            INSERT INTO portal_healthrollup (
                health_check_id, hour, hours, up, degraded, down, maintenance, unknown,
                latency_count, latency_sum_ms
            )
            SELECT c.id, %s::timestamptz - d * interval '1 day', 24,
                   1440 - (c.id + d) %% 7, 0, (c.id + d) %% 7, 0, 0, 0, 0
            FROM portal_healthcheck c CROSS JOIN generate_series(%s, %s) AS d
            """,
            [rollups.day_start(today), rollups.HOURLY_DAYS, DAYS - 1],
        )
        cursor.execute(
            """
            INSERT INTO portal_healthrollup (
                health_check_id, hour, hours, up, degraded, down, maintenance, unknown,
                latency_count, latency_sum_ms
            )
            SELECT c.id, hours.hour, 1, 60 - (c.id + hours.n) %% 7 / 6, 0,
                   (c.id + hours.n) %% 7 / 6, 0, 0, 0, 0
            FROM portal_healthcheck c CROSS JOIN (
                SELECT n, %s::timestamptz + n * interval '1 hour' AS hour
                FROM generate_series(0, %s * 24 - 1) AS n
            ) AS hours
            WHERE hours.hour <= %s
            """,
            [
                rollups.day_start(today - timedelta(days=rollups.HOURLY_DAYS - 1)),
                rollups.HOURLY_DAYS,
                rollups.hour_of(now),
            ],
        )
        cursor.execute("ANALYZE")
        cursor.execute("SELECT version()")
        version = cursor.fetchone()[0].split(",")[0]
    items = HealthCheck.objects.count()
    rows = HealthRollup.objects.count()
    print(f"{os.cpu_count()} cores, {version}; {items} items, {rows:,} rollups")

    member, _ = User.objects.get_or_create(username="bench-status", membership="approved")
    client = Client(headers={"accept-language": "en"})
    client.force_login(member)

    started = time.perf_counter()
    counted = rollups.count_running_totals()
    seconds = time.perf_counter() - started
    print(f"running totals of the whole history ({counted:,} rows, once): {seconds:.1f} s")
    # The hourly job's share: an hour's rows of every check.
    last_closed = rollups.hour_of(now) - timedelta(hours=2)
    HealthRollup.objects.filter(hour=last_closed).update(results_before=None, down_before=None)
    seconds, counted = best_of(1, rollups.count_running_totals)
    print(f"running totals of an hour ({counted:,} rows, hourly): {seconds * 1000:.0f} ms")

    seconds, counts = best_of(5, lambda: daily_counts(days=DAYS, today=today))
    print(f"90-day uptime per day, {len(counts)} items (daily_counts): {seconds * 1000:.0f} ms")
    seconds, _ = best_of(5, lambda: status_report(reader=Reader(staff=False), today=today))
    print(f"status report (the page's queries and objects): {seconds * 1000:.0f} ms")
    history = status_history(today=today)
    seconds, _ = best_of(
        5, lambda: status_report(reader=Reader(staff=False), today=today, history=history)
    )
    print(f"status report, the days before today cached: {seconds * 1000:.0f} ms")
    revision = page_state().revision
    frame = cached_status_frame(reader=Reader(staff=False), today=today, revision=revision)
    status_today_counts(today, revision=revision)
    seconds, figures = best_of(
        5,
        lambda: status_now(
            frame.items, today=today, today_counts=status_today_counts(today, revision=revision)
        ),
    )
    print(
        f"the page's figures after a scan, {len(figures)} items (status_now, with their 90-day "
        f"uptime): {seconds * 1000:.0f} ms"
    )

    def cold_page():
        cache.clear()
        response = client.get("/status/")
        assert response.status_code == 200
        return len(response.content)

    seconds, size = best_of(5, cold_page)
    print(f"/status/, cache cold: {seconds * 1000:.0f} ms ({size / 1e6:.1f} MB)")
    korean = Client(headers={"accept-language": "ko"})
    korean.force_login(member)
    seconds, _ = best_of(1, lambda: korean.get("/status/"))
    print(f"/status/ in another language (its frame new, the days kept): {seconds * 1000:.0f} ms")

    def get_after(change, url: str) -> float:
        """Seconds a GET of `url` takes right after `change`."""
        change()
        started = time.perf_counter()
        response = client.get(url)
        assert response.status_code == 200
        return time.perf_counter() - started

    def rename_a_service() -> None:
        service = Service.objects.order_by("pk").first()
        service.name = f"{service.name[:60]}'"
        service.save()

    task_times = []

    def a_new_day() -> None:
        # Nothing of the day cached yet, and the day's first scan has queued the prerender
        # task, which sums the days before today in the portal's zone.
        cache.clear()
        started = time.perf_counter()
        pages_prerender()
        task_times.append(time.perf_counter() - started)

    times = [get_after(a_new_day, "/status/") for _ in range(3)]
    print(
        "/status/, a day's first reader, the days before today summed by the prerender task: "
        f"{min(times) * 1000:.0f} ms, median {statistics.median(times) * 1000:.0f} ms (the "
        f"task {statistics.median(task_times) * 1000:.0f} ms)"
    )
    get_after(make_finished_scan, "/status/")
    times = [get_after(make_finished_scan, "/status/") for _ in range(5)]
    print(
        f"/status/, after a scan (frame kept, statuses and today new): {min(times) * 1000:.0f} "
        f"ms, median {statistics.median(times) * 1000:.0f} ms"
    )
    seconds, _ = best_of(5, lambda: client.get("/status/"))
    print(f"/status/, cached: {seconds * 1000:.0f} ms")
    times = [get_after(rename_a_service, "/status/") for _ in range(3)]
    print(
        "/status/, after a catalog write that leaves the days' layout (a service renamed: "
        f"its frame new, the days kept): {min(times) * 1000:.0f} ms, median "
        f"{statistics.median(times) * 1000:.0f} ms"
    )
    times = [get_after(make_finished_scan, "/api/status/") for _ in range(5)]
    print(
        f"/api/status/, after a scan (the days kept): {min(times) * 1000:.0f} ms, median "
        f"{statistics.median(times) * 1000:.0f} ms"
    )
    seconds, _ = best_of(5, lambda: client.get("/api/status/"))
    print(f"/api/status/, cached: {seconds * 1000:.0f} ms")


if __name__ == "__main__":
    main()
