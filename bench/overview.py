"""Throughput of the category overview against a minimal Django view, on one gunicorn.

    .venv/bin/python bench/overview.py [--seconds 6] [--rounds 3] [--connections 8]

Serves the portal with gunicorn (2 sync workers, 127.0.0.1, DEBUG off) on a fresh
SQLite database, or on DATABASE_URL if set; loads the seed catalog and a 200-service,
100-store category, with health from a finished scan; then drives each URL with wrk
(apt-get install wrk) as a signed-in browser would (session and CSRF cookies, accepting
gzip), and prints requests/s and the ratio to the minimal view.

The URLs take turns for several rounds and each one's median is kept, because this
machine's speed drifts over a minute by more than the differences measured. Two more
rows explain the figures: a signed-in empty page (what every portal page pays before the
overview's own work) and a response as large as the 200-service overview that does no
work at all (what moving that many bytes costs; in production nginx compresses pages).
"""

import argparse
import statistics
import urllib.request

from common import BROWSER_ENCODINGS, prepared_portal, wrk

IDENTITY = "identity"
MINIMAL = ("minimal Django view", "/bench/minimal/", BROWSER_ENCODINGS)
TARGETS = [
    MINIMAL,
    ("signed-in empty page (floor)", "/bench/signed-in/", BROWSER_ENCODINGS),
    ("seed overview (5 services)", "/categories/devops/", BROWSER_ENCODINGS),
    ("200-service overview", "/categories/big/", BROWSER_ENCODINGS),
]


def page_size(url: str, cookie: str, encodings: str) -> int:
    """The bytes a response puts on the wire (urllib does not decode them)."""
    request = urllib.request.Request(url, headers={"Cookie": cookie, "Accept-Encoding": encodings})
    with urllib.request.urlopen(request) as response:
        return len(response.read())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()

    with prepared_portal("--workers", "2", "--worker-class", "sync") as (base, cookie, env):
        sizes = {
            label: page_size(base + path, cookie, encodings) for label, path, encodings in TARGETS
        }
        big = sizes["200-service overview"]
        targets = [*TARGETS, (f"{big} bytes, no work", f"/bench/bytes/{big}/", IDENTITY)]
        sizes[targets[-1][0]] = big
        for _label, path, encodings in targets:  # warm every worker's caches
            wrk(base + path, cookie, seconds=2, connections=args.connections, encodings=encodings)
        print(
            f"database: {env['DATABASE_URL'].split(':')[0]}, gunicorn 2 sync workers, "
            f"wrk {args.connections} connections, {args.rounds} rounds x {args.seconds}s"
        )
        rates = {label: [] for label, _path, _encodings in targets}
        latencies = {label: [] for label, _path, _encodings in targets}
        for _round in range(args.rounds):
            for label, path, encodings in targets:
                figures = wrk(
                    base + path,
                    cookie,
                    seconds=args.seconds,
                    connections=args.connections,
                    encodings=encodings,
                )
                if figures["errors"]:
                    raise SystemExit(f"{label}: {figures['errors']} errors")
                rates[label].append(figures["rate"])
                latencies[label].append(figures["p50_ms"])
        floor = statistics.median(rates[MINIMAL[0]])
        for label, _path, _encodings in targets:
            rate = statistics.median(rates[label])
            print(
                f"{label:30} {sizes[label]:7} B {rate:9.1f} req/s"
                f"   p50 {statistics.median(latencies[label]):6.2f} ms"
                f"   ratio {rate / floor:.2f}   (rounds: "
                + ", ".join(f"{r:.0f}" for r in rates[label])
                + ")"
            )


if __name__ == "__main__":
    main()
