"""Load on the overview: 50 concurrent clients for 60 s against gunicorn and PostgreSQL.

    .venv/bin/python bench/load.py [--seconds 60] [--clients 50] [--workers N] [--threads N]

Uses the machine's PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/
aixops_bench, created if missing) and gunicorn with the production aixops/gunicorn.conf.py
(sync workers, cores + 1 of them, unless told otherwise), then drives /categories/devops/
with wrk (apt-get install wrk) as signed-in browsers would, and prints p50, p95 and p99
latency, throughput and the error count. Goal: 0 errors and p95 under 100 ms on 2 cores.
"""

import argparse
import os

from _django import cpu_reference
from common import gunicorn_settings, prepared_portal, wrk

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/aixops_bench"


def ensure_database(url: str) -> str:
    """Create the database `url` names if it is missing; returns the server's version."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    server = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if exists.fetchone() is None:
            connection.execute(f'CREATE DATABASE "{name}"')
        return connection.execute("SELECT version()").fetchone()[0].split(" on ")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: the config's)")
    parser.add_argument("--worker-class", help="gunicorn worker class (default: the config's)")
    parser.add_argument("--threads", type=int, help="gunicorn threads (default: the config's)")
    args = parser.parse_args()
    gunicorn_args = [
        f"--{option.replace('_', '-')}={value}"
        for option, value in vars(args).items()
        if option in ("workers", "worker_class", "threads") and value is not None
    ]

    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE)
    database = ensure_database(os.environ["DATABASE_URL"])
    print(
        f"{os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f}, {cpu_reference()}), "
        f"{database}"
    )
    served_by = gunicorn_settings(*gunicorn_args)
    with prepared_portal(*gunicorn_args) as (base, cookie, _env):
        url = f"{base}/categories/devops/"
        wrk(url, cookie, seconds=3, connections=args.clients)  # warm-up
        figures = wrk(url, cookie, seconds=args.seconds, connections=args.clients)
        print(
            f"overview under load: {args.clients} clients x {args.seconds}s, gunicorn "
            f"{served_by['workers']} {served_by['worker_class']} workers x "
            f"{served_by['threads']} threads, PostgreSQL"
        )
        print(
            f"requests {figures['requests']}  rate {figures['rate']:.1f}/s  "
            f"p50 {figures['p50_ms']:.1f} ms  p95 {figures['p95_ms']:.1f} ms  "
            f"p99 {figures['p99_ms']:.1f} ms  errors {figures['errors']}"
        )


if __name__ == "__main__":
    main()
