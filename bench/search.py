"""Search at 2,000 services: `/api/search/?q=…` and `/search/?q=…`, in-process, for a few
queries, the first time after a catalog change (the index is built) and then warm.

    .venv/bin/python bench/search.py [--services 2000] [--stores 1000] [--calls 50]

Runs with Django's test client on a fresh SQLite database (or DATABASE_URL), the cache as
configured (CACHE_URL; local memory by default). One category of `--services` services and
`--stores` data stores, 20 checklist items and notes, plus the seed catalog; a signed-in
member searches. Prints the server time (median and 95th percentile) of each, and the CPU
time it took (on a busy machine the wall time is mostly waiting). Goal: warm ≤ 50 ms.
"""

import argparse
import statistics
import time

from _django import machine, setup

# A name (one result), a prefix that matches every service, Korean text of the seed, a
# word that matches nothing, and two words.
QUERIES = ["Service 1999", "serv", "파이프라인", "nothing-like-it", "number 42"]


def timed(client, url: str, params: dict) -> tuple[float, float]:
    """The request's wall time and the CPU time the process spent on it (the share of
    the wall time that is not waiting for a busy machine's cores)."""
    start, cpu = time.perf_counter(), time.process_time()
    response = client.get(url, params)
    elapsed, spent = time.perf_counter() - start, time.process_time() - cpu
    assert response.status_code == 200, response.status_code
    return elapsed, spent


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=2000)
    parser.add_argument("--stores", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    setup()
    from django.core.management import call_command
    from django.test import Client

    from accounts.models import User
    from portal.models import CatalogRevision
    from tests.factories import make_category

    call_command("loaddata", "catalog", verbosity=0)
    make_category("big", services=args.services, stores=args.stores, items=20)
    member, _ = User.objects.get_or_create(username="bench-search", membership="approved")
    client = Client()
    client.force_login(member)
    print(f"{machine()}; {args.services} services, {args.stores} data stores")

    colds = []
    for _ in range(3):
        CatalogRevision.bump()
        colds.append(timed(client, "/api/search/", {"q": "serv"})[0])
    cold = statistics.median(colds) * 1000
    print(f"first search after a catalog change (the index is built): {cold:.1f} ms")
    for url in ["/api/search/", "/search/"]:
        for query in QUERIES:
            runs = [timed(client, url, {"q": query}) for _ in range(args.calls)]
            walls, cpus = [wall for wall, _ in runs], [cpu for _, cpu in runs]
            print(
                f"{url:13} {query!r:18} median {statistics.median(walls) * 1000:6.1f} ms  "
                f"p95 {percentile(walls, 0.95) * 1000:6.1f} ms  "
                f"(CPU median {statistics.median(cpus) * 1000:5.1f} ms)"
            )


if __name__ == "__main__":
    main()
