"""A health scan of 500 checks against a local server, concurrent and one by one.

    .venv/bin/python bench/scan.py [--checks 500] [--concurrency 25,50,100,200,500]
                                   [--skip-sequential]

The server (tests/servers.py, in its own process so its CPU is not counted) answers
at once for 89% of the checks, after 1 s for 10% and never for 1%; every check has a
2 s timeout. The script prints, for each concurrency (the httpx pool is sized to it),
the probing pass's wall time and CPU time; then the full scan as the Celery task runs
it (probes plus the bulk writes, on a fresh SQLite database, with the default
HEALTH_SCAN_CONCURRENCY), where one check in 20 is a sign-in redirect, one in 50 an
OpenID provider (discovery and JWKS on the same server) and one in 100 a Celery ping
through the tests' Redis that no worker answers (it waits its full second); then the
same checks probed sequentially.
Goals: scan wall time <= 1.5 x the timeout (3 s), and >= 10x faster than sequential.
"""

import argparse
import asyncio
import ipaddress
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools.processes import free_port  # noqa: E402

TIMEOUT = 2.0
# What a probe vets addresses against: the link-local ranges of HEALTH_CHECK_DENY_NETWORKS
# (the checks here are loopback, so none is refused).
DENY = [ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10")]



def path_for(n: int) -> str:
    if n % 100 == 0:
        return "/hang"
    if n % 10 == 5:
        return "/slow?seconds=1"
    return "/ok"


def specs_for(base: str, count: int):
    from portal.probes import ProbeSpec

    return [
        ProbeSpec(key=n, kind="http", target=f"{base}{path_for(n)}", timeout=TIMEOUT)
        for n in range(count)
    ]


def measure(run) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def tally(outcomes) -> str:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.outcome] = counts.get(outcome.outcome, 0) + 1
    return ", ".join(f"{key} {value}" for key, value in sorted(counts.items()))


def sequential(specs):
    from portal.probe_net import http_client
    from portal.probes import probe_one

    async def run():
        async with http_client() as client:
            return [await probe_one(spec, client, deny=DENY) for spec in specs]

    return asyncio.run(run())


def full_scan(base: str, count: int) -> tuple[float, float, dict]:
    """The real scan (scan_run): probes, results and state written in bulk, on SQLite."""
    data = tempfile.mkdtemp(prefix="aixops-bench-")
    os.environ.update(
        DATA_DIR=data,
        DJANGO_SETTINGS_MODULE="aixops.settings",
        HEALTH_LOCK_URL=os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14"),
        HEALTH_LOCK_KEY=f"aixops-bench:{uuid.uuid4().hex}",
    )
    os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    from portal.models import HealthCheck
    from portal.scans import scan_run
    from tests.factories import make_category

    call_command("migrate", verbosity=0)
    category = make_category("bench", services=count)
    HealthCheck.objects.bulk_create(
        HealthCheck(
            slug=f"bench-{n}",
            service=service,
            timeout=TIMEOUT,
            degraded_after_ms=None,
            **kind_for(n, base),
        )
        for n, service in enumerate(category.services.order_by("position"))
    )
    return measure(scan_run)


def kind_for(n: int, base: str) -> dict:
    """A check's kind and target in the full scan: mostly HTTP, some of the other kinds."""
    if n % 100 == 11:
        broker = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
        return {"kind": "celery", "target": broker, "queue": f"aixops-bench-{uuid.uuid4().hex}"}
    if n % 50 == 7:
        return {"kind": "oidc", "target": f"{base}/realm"}
    if n % 20 == 3:
        return {
            "kind": "sso-redirect",
            "target": f"{base}/redirect?to=/oauth2/sign_in",
            "expected": "/oauth2/",
        }
    return {"kind": "http", "target": f"{base}{path_for(n)}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checks", type=int, default=500)
    parser.add_argument("--concurrency", default="25,50,100,200,500")
    parser.add_argument("--skip-sequential", action="store_true")
    args = parser.parse_args()

    from portal.probes import probe_all

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.servers", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        server.stdout.readline()  # "serving on ..."
        base = f"http://127.0.0.1:{port}"
        specs = specs_for(base, args.checks)
        print(f"{args.checks} HTTP checks, timeout {TIMEOUT:g} s: 89% fast, 10% 1 s, 1% hang")
        print(f"{'concurrency':>12} {'wall s':>8} {'cpu s':>7}  outcomes")
        for concurrency in [int(c) for c in args.concurrency.split(",")]:
            wall, cpu, outcomes = measure(
                lambda c=concurrency: asyncio.run(
                    probe_all(specs, concurrency=c, deadline=30, deny=DENY)
                )
            )
            print(f"{concurrency:>12} {wall:>8.2f} {cpu:>7.2f}  {tally(outcomes)}")

        wall, cpu, summary = full_scan(base, args.checks)
        from django.conf import settings

        print(
            f"full scan (probes + bulk writes, SQLite, concurrency "
            f"{settings.HEALTH_SCAN_CONCURRENCY}): wall {wall:.2f} s, cpu {cpu:.2f} s, {summary}"
        )
        if not args.skip_sequential:
            seq_wall, seq_cpu, outcomes = measure(lambda: sequential(specs))
            print(f"sequential: wall {seq_wall:.2f} s, cpu {seq_cpu:.2f} s  {tally(outcomes)}")
            print(f"speed-up of the full scan over sequential: {seq_wall / wall:.1f}x")
    finally:
        server.terminate()
        server.wait(5)


if __name__ == "__main__":
    main()
