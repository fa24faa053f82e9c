"""One scan's write for 2,000 checks with 1 day and with 14 days of history, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/aixops_bench_history \\
        .venv/bin/python bench/history.py [--checks 2000] [--days 1,14] [--runs 5]

The database is emptied and migrated first. History is one scan a minute, generated in
bulk in SQL (generate_series) and vacuumed as autovacuum would: raw results for as long
as HEALTH_RETENTION_HOURS keeps them, hourly rollups for every hour, given their running
totals and folded into daily ones as the prune task does (the times printed). For each
length of history the script prints the median wall time of the scan's write
(`portal.scans._record`: results, rollups, the checks' state and the scan's finish, in
one transaction), its query count and its CPU time (this process and its database
backend), for the hour's first scan (which moves the uptime windows' closed hours on by
an hour), for a first scan after a gap (which reads them at the windows' ends from the
running totals) and for the later ones; then the hourly prune of results past
HEALTH_RETENTION_HOURS, with the scans' writes made meanwhile (what deleting in
batches, rather than dropping a day's partition, costs them); then the admin's list of
those results, unfiltered and narrowed; then the bytes a row of results and of rollups
take, and the disk at steady state (HEALTH_RETENTION_HOURS of results,
HEALTH_ROLLUP_RETENTION_DAYS of rollups). The status page's 90-day read is
bench/status.py's.
Goals: the write <= 200 ms and the same for both lengths; steady-state disk <= 2 GiB.
"""

import argparse
import os
import statistics
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _django

SCANS_PER_DAY = 24 * 60
MIB = 1024 * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checks", type=int, default=2000)
    parser.add_argument("--days", default="1,14")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database of your own (it is emptied).")
    _django.setup()
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("This bench measures PostgreSQL.")
    call_command("flush", "--no-input", verbosity=0)
    check_ids = make_checks(args.checks)
    print(f"{args.checks} checks, one scan a minute; {_django.machine()}")
    print(
        "a scan's write, median wall ms (queries, CPU ms of this process and its database "
        "backend): the hour's first scan, the first after a gap, the hour's later ones"
    )
    print(
        f"{'history':>10} {'raw rows':>10} {'first of the hour':>24} {'after a gap':>22}"
        f" {'later':>20}"
    )
    generated = 0
    for days in sorted(int(d) for d in args.days.split(",")):
        generate_history(check_ids, since_day=generated, days=days)
        generated = days
        first, after_gap, later = time_write(check_ids, runs=args.runs)
        raw_rows = table_rows("portal_checkresult")
        print(f"{days:>8} d {raw_rows:>10} {first:>24} {after_gap:>22} {later:>20}")
    time_prune(check_ids, runs=args.runs)
    time_result_admin(runs=args.runs)
    print_sizes(len(check_ids))


def make_checks(count: int) -> list[int]:
    from portal.models import HealthCheck
    from tests.factories import make_category

    category = make_category("history", services=count)
    HealthCheck.objects.bulk_create(
        HealthCheck(slug=f"history-{n}", service=service, target="/health")
        for n, service in enumerate(category.services.order_by("position"))
    )
    return list(HealthCheck.objects.order_by("pk").values_list("pk", flat=True))


def generate_history(check_ids: list[int], *, since_day: int, days: int) -> None:
    """Rollups for the days from `since_day` to `days` ago, and the raw results of those
    within HEALTH_RETENTION_HOURS."""
    from django.conf import settings
    from django.db import connection

    from portal.models import HealthRollup
    from portal.rollups import compact, count_running_totals

    raw_days = min(days, -(-settings.HEALTH_RETENTION_HOURS // 24))
    if raw_days > since_day:
        generate_results(
            check_ids, newest=timedelta(days=since_day), oldest=timedelta(days=raw_days)
        )
    first, last = check_ids[0], check_ids[-1]
    with connection.cursor() as cursor:
        # One row an hour per check, 60 results each, one down in 97 hours. A longer
        # history continues a shorter one: the rows it shares with it (the hour the
        # shorter began with, should the hour have turned since; the midnight row of a day
        # compact() folded) stay as they are.
        cursor.execute(
            """
            INSERT INTO portal_healthrollup (health_check_id, hour, hours, up, degraded, down,
                                             maintenance, unknown, latency_count,
                                             latency_sum_ms, latency_max_ms)
            SELECT c, h, 1, 60 - d, 0, d, 0, 0, 60 - d, (60 - d) * 40.0, 70
            FROM generate_series(
                     date_trunc('hour', now()) - make_interval(days => %(days)s),
                     date_trunc('hour', now()) - make_interval(days => %(since)s)
                         - interval '1 hour',
                     interval '1 hour') AS h,
                 generate_series(%(first)s, %(last)s) AS c,
                 LATERAL (SELECT CASE WHEN (extract(epoch FROM h)::bigint / 3600 + c) %% 97 = 0
                                      THEN 1 ELSE 0 END AS d) AS down
            ON CONFLICT (health_check_id, hour) DO NOTHING
            """,
            {"first": first, "last": last, "days": days, "since": since_day},
        )
        cursor.execute("VACUUM ANALYZE portal_healthrollup")
    # As the hourly job leaves them: every closed hour with its running totals (counted
    # again from the start, as older rows came after the newer ones here), then old days
    # compacted.
    started = time.perf_counter()
    HealthRollup.objects.update(results_before=None, down_before=None)
    counted = count_running_totals()
    seconds = time.perf_counter() - started
    print(f"  (counting the running totals of {counted} rows: {seconds:.1f} s)")
    started = time.perf_counter()
    compacted = compact()
    if compacted:
        seconds = time.perf_counter() - started
        print(f"  (compacting {compacted} days of hourly rollups: {seconds / compacted:.2f} s/day)")


def generate_results(check_ids: list[int], *, newest: timedelta, oldest: timedelta) -> None:
    """Scans and raw results, one scan a minute, from `oldest` ago to `newest` ago."""
    from django.db import connection

    first, last = check_ids[0], check_ids[-1]
    span = {"newest": newest.total_seconds(), "oldest": oldest.total_seconds()}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO portal_scan (state, started_at, finished_at, task_id, checked, up,
                                     degraded, down, maintenance, unknown, duration_ms)
            SELECT 'finished', at, at, '', %(n)s, %(n)s, 0, 0, 0, 0, 100
            FROM generate_series(now() - make_interval(secs => %(oldest)s),
                                 now() - make_interval(secs => %(newest)s) - interval '1 minute',
                                 interval '1 minute') AS at
            """,
            {"n": len(check_ids), **span},
        )
        cursor.execute(
            """
            INSERT INTO portal_checkresult (scan_id, health_check_id, checked_at, outcome,
                                            status, latency_ms, detail)
            SELECT s.id, c, s.started_at,
                   CASE WHEN (s.id + c) %% 97 = 0 THEN 'down' ELSE 'up' END,
                   CASE WHEN (s.id + c) %% 97 = 0 THEN 'down' ELSE 'up' END,
                   20 + (s.id + c) %% 50, ''
            FROM portal_scan s, generate_series(%(first)s, %(last)s) AS c
            WHERE s.started_at >= now() - make_interval(secs => %(oldest)s)
              AND s.started_at < now() - make_interval(secs => %(newest)s)
            """,
            {"first": first, "last": last, **span},
        )
        cursor.execute("VACUUM ANALYZE portal_checkresult")


def time_write(check_ids: list[int], *, runs: int) -> list[str]:
    """The median wall time in ms of a scan's write, its queries and the median CPU time
    it took in this process and its database backend (on a shared machine the wall
    waits for the others; the CPU does not): the hour's first scan, which moves the
    uptime windows' closed hours on by one hour; the same after a gap of an hour or
    more, which reads them from the running totals; then the hour's later ones."""
    from django.utils import timezone

    from portal.models import HealthCheck
    from portal.rollups import hour_of

    figures = []
    previous_hour = hour_of(timezone.now()) - timedelta(hours=1)
    for summed_in in (previous_hour, None, "this hour"):
        walls, cpus, queries = [], [], 0
        for run in range(runs):
            if summed_in != "this hour":
                # As the hour before's scans leave them (any base: the cost is the same).
                HealthCheck.objects.filter(pk__in=check_ids).update(
                    uptime_base_hour=summed_in, uptime_base=[0, 0, 0, 0]
                )
            wall, cpu, queries = write_once(check_ids, run)
            walls.append(wall)
            cpus.append(cpu)
        figures.append(
            f"{statistics.median(walls):.0f} ({queries}, CPU {statistics.median(cpus):.0f})"
        )
    return figures


def write_once(check_ids: list[int], run: int) -> tuple[float, float, int]:
    """One scan's write (`portal.scans._record`) of every check, one in 97 down: its wall
    and CPU ms (this process and its database backend) and its query count."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from portal.models import HealthCheck, Scan
    from portal.probes import ProbeOutcome
    from portal.scans import _record

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    checks = list(HealthCheck.objects.filter(pk__in=check_ids).order_by("pk"))
    outcomes = [
        ProbeOutcome(
            key=check.pk,
            outcome="down" if (check.pk + run) % 97 == 0 else "up",
            latency_ms=20.0 + (check.pk % 50),
            detail="",
        )
        for check in checks
    ]
    scan = Scan.objects.create()
    with CaptureQueriesContext(connection) as captured:
        cpu = time.process_time() + backend_cpu(backend)
        started = time.perf_counter()
        _record(scan, checks, outcomes, duration=1.0)
        wall = (time.perf_counter() - started) * 1000
        cpu = (time.process_time() + backend_cpu(backend) - cpu) * 1000
    return wall, cpu, len(captured)


def time_prune(check_ids: list[int], *, runs: int) -> None:
    """The hourly prune at steady state, as beat runs it: an hour of results just past
    HEALTH_RETENTION_HOURS deleted in batches (`portal.scans.results_prune`), and scans'
    writes made meanwhile next to the same writes made alone. A DROP of a day's
    partition would make the prune itself free; this says what the batches cost the
    scans."""
    from django.conf import settings
    from django.db import connection

    from portal.rollups import PRUNE_BATCH
    from portal.scans import results_prune

    retention = settings.HEALTH_RETENTION_HOURS
    alone = [write_once(check_ids, run)[0] for run in range(runs)]
    generate_results(
        check_ids, newest=timedelta(hours=retention), oldest=timedelta(hours=retention + 1)
    )
    deleted, seconds = {}, {}

    def prune() -> None:
        started = time.perf_counter()
        deleted.update(results_prune())
        seconds["prune"] = time.perf_counter() - started
        connection.close()

    pruning = threading.Thread(target=prune)
    meanwhile = []
    pruning.start()
    while pruning.is_alive():
        meanwhile.append(write_once(check_ids, len(meanwhile))[0])
    pruning.join()
    print(
        f"hourly prune: {deleted['results_deleted']} results past {retention} h in "
        f"{seconds['prune']:.1f} s (batches of {PRUNE_BATCH}); a scan's write "
        f"meanwhile median {statistics.median(meanwhile):.0f} ms, at most "
        f"{max(meanwhile):.0f} ms ({len(meanwhile)} writes), alone median "
        f"{statistics.median(alone):.0f} ms, at most {max(alone):.0f} ms"
    )


def time_result_admin(*, runs: int) -> None:
    """The admin's list of results at steady state as a superuser reads it (in-process,
    the test client): median wall ms and queries, unfiltered and narrowed the ways it
    offers."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User

    admin, _ = User.objects.get_or_create(
        username="bench-history-admin",
        defaults={"is_staff": True, "is_superuser": True, "membership": "approved"},
    )
    client = Client()
    client.force_login(admin)
    print("the admin's result list, median wall ms (queries):")
    for label, query in [
        ("unfiltered", {}),
        ("page 50", {"p": 50}),
        ("a check's slug", {"q": "history-1999"}),
        ("slugs starting history-5", {"q": "history-5"}),
        ("the last hour", {"within": "1h"}),
        ("down", {"status__exact": "down"}),
    ]:
        walls = []
        for _run in range(runs):
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get("/admin/portal/checkresult/", query)
                walls.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
        print(f"  {label:>26}: {statistics.median(walls):6.0f} ({len(captured)})")


def backend_cpu(pid: int) -> float:
    """CPU seconds a database backend on this machine has used (0 if it runs elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def table_rows(table: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - a fixed table name
        return cursor.fetchone()[0]


def relation_sizes(table: str) -> dict[str, int]:
    """Bytes of a table's heap (with TOAST) and of each of its indexes."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE " + table)
        cursor.execute(
            """
            SELECT 'heap', pg_table_size(%(t)s::regclass)
            UNION ALL
            SELECT indexrelid::regclass::text, pg_relation_size(indexrelid)
            FROM pg_index WHERE indrelid = %(t)s::regclass
            """,
            {"t": table},
        )
        return dict(cursor.fetchall())


def row_bytes(table: str) -> float:
    """Bytes a row of a table takes with its indexes, printed with the breakdown."""
    rows = table_rows(table)
    sizes = relation_sizes(table)
    per_row = sum(sizes.values()) / rows
    print(f"{table}: {rows} rows, {per_row:.0f} bytes a row with its indexes")
    for name, size in sizes.items():
        print(f"  {name}: {size / MIB:.0f} MiB ({size / rows:.0f} bytes a row)")
    return per_row


def print_sizes(checks: int) -> None:
    from django.conf import settings

    from portal.rollups import HOURLY_DAYS

    results = row_bytes("portal_checkresult") * checks * SCANS_PER_DAY
    rollup = row_bytes("portal_healthrollup")
    hours, days = settings.HEALTH_RETENTION_HOURS, settings.HEALTH_ROLLUP_RETENTION_DAYS
    raw = results * hours / 24
    rollups = rollup * checks * (HOURLY_DAYS * 24 + days - HOURLY_DAYS)
    print(f"a day of results for {checks} checks: {results / MIB:.0f} MiB")
    print(
        f"steady state: {hours} h of results {raw / MIB:.0f} MiB + {days} days of rollups "
        f"({HOURLY_DAYS} hourly) {rollups / MIB:.0f} MiB = {(raw + rollups) / MIB:.0f} MiB"
    )


if __name__ == "__main__":
    main()
