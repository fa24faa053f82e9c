"""What one warm view of /categories/devops/ costs this process, as bench/load.py drives it.

    .venv/bin/python bench/request_cpu.py [--requests 2000] [--rounds 5] [--profile 30]

The load bench's p95 is its 50 clients over the workers' throughput, and the workers are
CPU-bound on a shared machine: this prints the CPU time one request takes in Django,
measured in-process so that other processes on the cores do not blur it. Prepared as
bench/common.py prepares the load bench (the seed catalog, the 200-service category, a
finished scan, a member signed in with a real session cookie), on PostgreSQL
(DATABASE_URL, default aixops_bench, created if missing) and the Redis cache
(BENCH_CACHE_URL, emptied first), production settings (DEBUG off, Prometheus figures in
a multiprocess directory). Each request goes through Django's WSGI handler with the
headers wrk sends. Prints the median CPU µs per request over the rounds, the queries and
cache round trips one request makes, what gunicorn's access log line costs, and with
`--profile N` the N functions that take most of its CPU time (cProfile, cumulative and
own).
"""

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

URL = "/categories/devops/"


def configure() -> None:
    from common import BENCH_CACHE_URL, bench_environment, empty_cache
    from load import DEFAULT_DATABASE, ensure_database

    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE)
    ensure_database(os.environ["DATABASE_URL"])
    workdir = Path(tempfile.mkdtemp(prefix="aixops-bench-"))
    os.environ.update(bench_environment(workdir))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(workdir / "prometheus")
    os.environ["CACHE_URL"] = BENCH_CACHE_URL
    empty_cache()
    import django

    django.setup()


def prepare() -> str:
    """The seed catalog and what bench/common.py's `prepare` adds; the Cookie header of a
    member signed in with a session made by the configured session engine."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.middleware.csrf import CSRF_SECRET_LENGTH
    from django.utils.crypto import get_random_string

    from portal.models import Category
    from tests.factories import make_category, make_checks, make_finished_scan

    call_command("migrate", "--no-input", verbosity=0)
    call_command("collectstatic", "--no-input", verbosity=0)
    call_command("loaddata", "catalog", verbosity=0)
    if not Category.objects.filter(slug="big").exists():
        big = make_category("big", services=200, stores=100, items=20)
        make_checks(big)
        make_checks(Category.objects.get(slug="devops"))
    make_finished_scan()
    user, _ = get_user_model().objects.get_or_create(
        username="bench-member", defaults={"membership": "approved"}
    )
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "accounts.backends.LocalAccountBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()
    csrf_secret = get_random_string(CSRF_SECRET_LENGTH)
    return f"sessionid={session.session_key}; csrftoken={csrf_secret}"


def request(handler, cookie: str) -> int:
    """One GET of URL as wrk sends it; the response read and closed, as gunicorn does."""
    from common import BROWSER_ENCODINGS

    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": URL,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_COOKIE": cookie,
        "HTTP_ACCEPT_LANGUAGE": "ko",
        "HTTP_ACCEPT_ENCODING": BROWSER_ENCODINGS,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    status = []
    response = handler(environ, lambda line, headers, exc_info=None: status.append(line))
    try:
        size = sum(len(chunk) for chunk in response)
    finally:
        response.close()
    assert status[0].startswith("200"), status[0]
    return size


def round_trips(handler, cookie: str) -> tuple[list[str], list[str]]:
    """The SQL statements and the Redis commands (a pipeline as one) one request makes."""
    import redis
    from django.db import connection

    queries: list[str] = []
    commands: list[str] = []

    def count_query(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    plain, pipelined = redis.Redis.execute_command, redis.client.Pipeline.execute

    def count_command(self, *args, **options):
        commands.append(str(args[0]))
        return plain(self, *args, **options)

    def count_pipeline(self, *args, **options):
        commands.append("pipeline(" + ",".join(str(c[0][0]) for c in self.command_stack) + ")")
        return pipelined(self, *args, **options)

    redis.Redis.execute_command = count_command
    redis.client.Pipeline.execute = count_pipeline
    try:
        with connection.execute_wrapper(count_query):
            request(handler, cookie)
    finally:
        redis.Redis.execute_command, redis.client.Pipeline.execute = plain, pipelined
    return queries, commands


def access_log_cost(requests: int) -> float:
    """CPU µs gunicorn's access log takes per request: its default format, to /dev/null
    (as the load bench runs it; production writes to stdout, which a pipe reads)."""
    from datetime import timedelta

    from gunicorn.config import Config
    from gunicorn.glogging import Logger
    from gunicorn.http.wsgi import Response

    config = Config()
    config.set("accesslog", "/dev/null")
    logger = Logger(config)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": URL,
        "PATH_INFO": URL,
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_USER_AGENT": "",
        "HTTP_REFERER": "",
    }

    class Request:
        headers = [("HOST", "127.0.0.1")]

    response = Response(Request(), None, config)
    response.status = "200 OK"
    response.status_code = 200
    response.response_length = 20_000
    response.headers = [("Content-Type", "text/html; charset=utf-8")]
    started = time.process_time()
    for _ in range(requests):
        logger.access(response, Request(), environ, timedelta(milliseconds=5))
    return (time.process_time() - started) / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", type=int, default=0, help="print the top N functions")
    args = parser.parse_args()
    configure()
    cookie = prepare()
    from _django import machine
    from django.core.handlers.wsgi import WSGIHandler

    handler = WSGIHandler()
    size = 0
    for _ in range(20):  # the page, its parts and the session into the cache
        size = request(handler, cookie)
    queries, commands = round_trips(handler, cookie)
    print(f"{machine()}; {URL} {size:,} B")
    print(f"queries per request: {len(queries)}")
    for sql in queries:
        print(f"  {sql[:110]}")
    print(f"cache round trips per request: {len(commands)}: {' '.join(commands)}")

    rounds = []
    for _ in range(args.rounds):
        started = time.process_time()
        for _ in range(args.requests):
            request(handler, cookie)
        rounds.append((time.process_time() - started) / args.requests * 1e6)
    print(
        f"CPU per request: median {statistics.median(rounds):.0f} µs, least {min(rounds):.0f} "
        f"over {args.rounds} rounds of {args.requests} ({' '.join(f'{r:.0f}' for r in rounds)})"
    )
    print(f"gunicorn access log line: {access_log_cost(args.requests):.0f} µs CPU")
    print(f"load average after: {os.getloadavg()[0]:.1f}")

    if args.profile:
        # CPU time, as the rounds: wall time would count the waits for other processes.
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        for _ in range(args.requests):
            request(handler, cookie)
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
        stats.print_stats(args.profile)
        out.write("\n--- by own time ---\n")
        stats.sort_stats("tottime").print_stats(args.profile)
        print(out.getvalue())


if __name__ == "__main__":
    main()
