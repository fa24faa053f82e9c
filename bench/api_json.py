"""The catalog's JSON at 2,000 services: `/api/categories/<slug>/` and `/api/health/`,
cold (after a scan) and warm, in-process; and what gzip makes of them.

    .venv/bin/python bench/api_json.py [--services 2000] [--stores 1000] [--calls 50]

Runs with Django's test client on a fresh SQLite database (or DATABASE_URL), the cache as
configured (CACHE_URL; local memory by default). One category of `--services` services and
`--stores` data stores, each with a check, and a finished scan; a signed-in member reads
each URL once right after a new scan (cold: the JSON is built) and then `--calls` times
(warm: from the cache). Prints medians, bytes and gzipped bytes (nginx gzips JSON in
production). Goal: warm ≤ 50 ms.
"""

import argparse
import gzip
import statistics
import time

from _django import machine, setup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=2000)
    parser.add_argument("--stores", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    setup()
    from django.test import Client

    from accounts.models import User
    from tests.factories import make_category, make_checks, make_finished_scan

    category = make_category("big", services=args.services, stores=args.stores, items=20)
    make_checks(category)
    member, _ = User.objects.get_or_create(username="bench-json", membership="approved")
    client = Client()
    client.force_login(member)
    print(f"{machine()}; {args.services} services, {args.stores} data stores")

    for url in ["/api/categories/big/", "/api/health/"]:
        colds = []
        for _ in range(3):
            make_finished_scan()
            start = time.perf_counter()
            response = client.get(url)
            colds.append(time.perf_counter() - start)
            assert response.status_code == 200, response.status_code
        warms = []
        for _ in range(args.calls):
            start = time.perf_counter()
            response = client.get(url)
            warms.append(time.perf_counter() - start)
        body = response.content
        print(
            f"{url:24} cold {statistics.median(colds) * 1000:7.1f} ms  "
            f"warm {statistics.median(warms) * 1000:6.1f} ms  "
            f"{len(body):,} B, gzipped {len(gzip.compress(body, 6)):,} B"
        )


if __name__ == "__main__":
    main()
