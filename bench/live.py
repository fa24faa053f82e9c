"""The live-status endpoint's server time: what an open page's poll costs.

    .venv/bin/python bench/live.py [--requests 2000]

In-process through Django's test client (the whole middleware stack, a signed-in member's
session), on the seed catalog with a check on every DevOps item and a finished scan, on a
fresh SQLite database (or DATABASE_URL) and the cache CACHE_URL names (default: this
process's memory; production's Redis: CACHE_URL=redis://127.0.0.1:6379/<db>, which is
emptied). Prints the median and p95 (and the median CPU time of this process) of:
- unchanged: the page's state is current, a 204 (what almost every poll is);
- changed, cached: the state moved and another reader already had the answer built;
- changed, after a scan: the first poll after a scan, which builds the answer.
Goal: unchanged at most 2 ms.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _django


def timed(runs: int, call, before=None) -> tuple[list[float], list[float]]:
    """Milliseconds of each of `runs` calls, wall clock and this process's CPU (which a
    busy machine disturbs less); `before` runs untimed before each."""
    wall, cpu = [], []
    for _ in range(runs):
        if before is not None:
            before()
        started, started_cpu = time.perf_counter(), time.process_time()
        call()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return wall, cpu


def figures(name: str, times: tuple[list[float], list[float]]) -> str:
    wall, cpu = times
    p95 = statistics.quantiles(wall, n=20)[-1]
    return (
        f"{name:<24} median {statistics.median(wall):6.2f} ms   p95 {p95:6.2f} ms   "
        f"CPU median {statistics.median(cpu):6.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    os.environ.setdefault("CACHE_URL", "locmemcache://bench-live")
    _django.setup()

    from django.conf import settings
    from django.core.cache import cache
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone

    from accounts.models import User
    from portal.models import Category, HealthCheck, Scan
    from portal.pages import page_state
    from portal.state_cache import page_state_moved

    cache.clear()
    call_command("loaddata", "catalog", verbosity=0)
    devops = Category.objects.get(slug="devops")
    HealthCheck.objects.filter(slug__startswith="bench-live-").delete()
    checks = [
        HealthCheck(slug=f"bench-live-{service.slug}", service=service, target="/", status="up")
        for service in devops.services.all()
    ] + [
        HealthCheck(slug=f"bench-live-{store.slug}", data_store=store, kind="tcp", target="db:1")
        for store in devops.data_stores.all()
    ]
    HealthCheck.objects.bulk_create(checks)

    def scan_finishes():
        now = timezone.now()
        Scan.objects.create(state=Scan.State.FINISHED, started_at=now, finished_at=now)
        page_state_moved()

    scan_finishes()
    member, _ = User.objects.get_or_create(
        username="bench-live", defaults={"membership": User.Membership.APPROVED}
    )
    client = Client()
    client.force_login(member)
    url = "/live/categories/devops/"
    assert client.get("/categories/devops/").status_code == 200

    def changed():
        assert client.get(url, {"state": "drawn-before"}).status_code == 200

    state = page_state().cache_key
    client.get(url, {"state": state})  # warm
    unchanged_times = timed(args.requests, lambda: client.get(url, {"state": state}))
    assert client.get(url, {"state": state}).status_code == 204
    changed()
    cached_times = timed(args.requests // 2, changed)
    after_scan_times = timed(max(20, args.requests // 20), changed, before=scan_finishes)

    backend = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    print(f"live status, {_django.machine()}, cache {backend}")
    print(figures("unchanged (204)", unchanged_times))
    print(figures("changed, cached", cached_times))
    print(figures("changed, after a scan", after_scan_times))
    cache.clear()


if __name__ == "__main__":
    main()
