"""Throughput of the category overview against a minimal Django view, on one gunicorn.

    .venv/bin/python bench/overview.py [--seconds 10] [--connections 8]

Serves the portal with gunicorn (2 sync workers, 127.0.0.1, DEBUG off) on a fresh
SQLite database, or on DATABASE_URL if set; loads the seed catalog and a 200-service,
100-store category; then drives each URL with wrk (apt-get install wrk) for the same
time and prints requests/s and the ratio to the minimal view. Goal: ratio >= 0.5.
A signed-in empty page (session, user, top bar, no catalog) is measured as well: it
is the floor every portal page pays before the overview's own work.
"""

import argparse

from common import prepared_portal, wrk

TARGETS = [
    ("minimal Django view", "/bench/minimal/"),
    ("signed-in empty page (floor)", "/bench/signed-in/"),
    ("seed overview (5 services)", "/categories/devops/"),
    ("200-service overview", "/categories/big/"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()

    with prepared_portal("--workers", "2", "--worker-class", "sync") as (base, cookie, env):
        for _label, path in TARGETS:  # warm every worker's caches
            wrk(base + path, cookie, seconds=2, connections=args.connections)
        print(
            f"database: {env['DATABASE_URL'].split(':')[0]}, gunicorn 2 sync workers, "
            f"wrk {args.connections} connections x {args.seconds}s"
        )
        floor = None
        for label, path in TARGETS:
            figures = wrk(base + path, cookie, seconds=args.seconds, connections=args.connections)
            if figures["errors"]:
                raise SystemExit(f"{label}: {figures['errors']} errors")
            floor = floor or figures["rate"]
            print(
                f"{label:30} {figures['rate']:9.1f} req/s   p50 {figures['p50_ms']:7.2f} ms"
                f"   ratio {figures['rate'] / floor:.2f}"
            )


if __name__ == "__main__":
    main()
