"""The 2,000-service category's overview page, `/api/categories/<slug>/` and `/api/health/`:
cold, after a scan and warm, in-process; and what gzip makes of them.

    .venv/bin/python bench/api_json.py [--services 2000] [--stores 1000] [--calls 50]
                                       [--rounds 3]

Runs with Django's test client on a fresh SQLite database (or DATABASE_URL), the cache as
configured (CACHE_URL; local memory by default), tasks in-process. One category of
`--services` services and `--stores` data stores, each with a check, and a finished scan.
A signed-in member reads each URL `--rounds` times with every cache emptied (cold: the
catalog rendered too); as many times right after a scan no page was rendered ahead of (the
reader builds what the scan changed); for the overview, as many times right after a scan
whose prerender task ran (portal.prerender: what the first reader pays when a worker
rendered the pages readers asked for) and right after a catalog change whose prerender
ran (the task's own times are printed too); then `--calls` times (warm: from the cache).
Prints medians of the wall time and of this process's CPU time (the machine is often
shared: the CPU time leaves out the waits for other processes, and PostgreSQL's work),
the raw figures, bytes and gzipped bytes (nginx gzips pages and JSON in production), and
the load average and a reference loop's CPU time (how fast the shared machine runs just
then: it drifts by half from one minute to the next) before and after.
Goals at 2,000 services: the overview ≤ 5 ms warm, ≤ 200 ms after a scan, ≤ 300 ms cold;
the JSON ≤ 50 ms warm.
"""

import argparse
import gc
import gzip
import os
import statistics
import time

from _django import cpu_reference, machine, setup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=2000)
    parser.add_argument("--stores", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument(
        "--rounds", type=int, default=3, help="cold and after-a-scan views of each kind"
    )
    args = parser.parse_args()
    setup()
    from django.conf import settings
    from django.core.cache import cache, caches
    from django.test import Client
    from django.test.utils import teardown_test_environment

    # Templates render as on a server: the test environment would copy the context at
    # every include for the test client to inspect, which costs seconds on this page.
    teardown_test_environment()
    settings.ALLOWED_HOSTS = ["testserver"]

    from accounts.models import User
    from portal.asked import ASKED_KEY
    from portal.models import CatalogRevision
    from portal.page_copies import page_copies
    from tests.factories import make_category, make_checks, make_finished_scan

    category = make_category("big", services=args.services, stores=args.stores, items=20)
    make_checks(category)
    member, _ = User.objects.get_or_create(username="bench-json", membership="approved")
    client = Client()
    client.force_login(member)
    print(f"{machine()}; {args.services} services, {args.stores} data stores")
    # As a gunicorn worker does once started (aixops/gunicorn.conf.py, post_worker_init):
    # what lives as long as the process, here with the objects making the catalog left,
    # is kept out of the collector's generations, so that a collection during a request
    # walks that request's objects and not the bench's set-up.
    gc.freeze()

    def timed(url: str) -> tuple[tuple[float, float], bytes]:
        start, cpu = time.perf_counter(), time.process_time()
        response = client.get(url)
        elapsed = time.perf_counter() - start, time.process_time() - cpu
        assert response.status_code == 200, response.status_code
        return elapsed, response.content

    def median(times: list[tuple[float, float]]) -> str:
        wall = statistics.median(wall for wall, _cpu in times) * 1000
        cpu = statistics.median(cpu for _wall, cpu in times) * 1000
        return f"{wall:7.1f} ms (CPU {cpu:6.1f})"

    def raw(times: list[tuple[float, float]]) -> str:
        return " ".join(f"{wall * 1000:.1f}/{cpu * 1000:.1f}" for wall, cpu in times)

    def timed_call(call) -> tuple[float, float]:
        start, cpu = time.perf_counter(), time.process_time()
        call()
        return time.perf_counter() - start, time.process_time() - cpu

    def empty_every_cache() -> None:
        # The shared cache and this process's own (the fragments and the page copies a
        # web process keeps), as a freshly started server has them.
        for alias in settings.CACHES:
            caches[alias].clear()
        page_copies.clear()

    def scan_nobody_asked_for() -> None:
        # With no page recorded as asked for (portal.asked), the scan queues no prerender.
        cache.delete(ASKED_KEY)
        make_finished_scan()

    for url in ["/categories/big/", "/api/categories/big/", "/api/health/"]:
        figures: dict[str, list[tuple[float, float]]] = {
            "cold": [],
            "after a scan": [],
            "after a scan, pre-rendered": [],
            "prerender task": [],
            "after a catalog change, pre-rendered": [],
            "prerender task, catalog change": [],
            "warm": [],
        }
        for _ in range(args.rounds):
            scan_nobody_asked_for()
            empty_every_cache()
            figures["cold"].append(timed(url)[0])
        for _ in range(args.rounds):
            scan_nobody_asked_for()
            figures["after a scan"].append(timed(url)[0])
        if url.startswith("/categories/"):
            empty_every_cache()
            timed(url)  # asked for (and rendered) once, as a reader before the scans would
            for _ in range(args.rounds):
                # Tasks run in-process: the scan's commit runs its prerender, here.
                figures["prerender task"].append(timed_call(make_finished_scan))
                figures["after a scan, pre-rendered"].append(timed(url)[0])
            for _ in range(args.rounds):
                # A catalog write: the catalog part too is rendered again, by the task.
                figures["prerender task, catalog change"].append(timed_call(CatalogRevision.bump))
                figures["after a catalog change, pre-rendered"].append(timed(url)[0])
        for _ in range(args.calls):
            elapsed, body = timed(url)
            figures["warm"].append(elapsed)
        print(f"{url}  {len(body):,} B, gzipped {len(gzip.compress(body, 6)):,} B")
        for what, times in figures.items():
            if times:
                shown = raw(times) if len(times) <= 9 else f"{len(times)} calls"
                print(f"  {what:37} {median(times)}   raw wall/CPU ms: {shown}")
    print(f"load average after: {os.getloadavg()[0]:.1f}, {cpu_reference()}")


if __name__ == "__main__":
    main()
