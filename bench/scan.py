"""Health scans at 10,000 HTTP checks: the probe client's CPU, and whole scans on real
Celery workers with 1 and with 2 worker processes.

    [DATABASE_URL=postgres://…/aixops_bench_scan] [BENCH_REDIS_URL=redis://…/10] \
        .venv/bin/python bench/scan.py [--checks 10000] [--processes 1,2]
                                       [--chunk-size 5000] [--concurrency 400]

The server (tests/servers.py, in its own process so its CPU is not counted) answers at
once for 89% of the checks, after 1 s for 10% and never for 1%; every check has a 2 s
timeout. The script prints the machine's cores and load, then:

1. CPU per request of the two HTTP clients considered, httpx and aiohttp, each asking
   the server's /ok the same number of times, no connection kept (as probes do);
2. the probing pass (`probe_all`, the client the scans use) over every check in this
   process, its garbage collector tuned as a worker process's is
   (`aixops.celery.tune_the_collector`): wall and CPU time, CPU per probe, outcomes and
   false downs (a check that answers, reported down);
3. for each number of worker processes, a real scan, after a first one (a scan probes
   first the checks slowest or silent in the scan before): `celery worker` (prefork) on a
   queue of its own, Redis database 10 (BENCH_REDIS_URL) for the broker, results and lock
   (emptied before and after), SQLite in a temporary directory or the PostgreSQL database
   DATABASE_URL names (emptied: one of its own); the scan queued as beat queues it, split
   into chunks, recorded by its finishing task. Wall from queueing to finished, that
   divided by the timeout, the finishing task's write, and false downs; then where the
   wall went, from the workers' task events: waiting in the queue, planning (the scan
   task), the chunks (their start and end, loading and probing), the hand-over of their
   outcomes to the finishing task, and its write.
Goals: CPU per HTTP probe <= 0.5 ms; scan wall / timeout <= 3 with the workers this
machine can run; 0 false downs. `--concurrency` is each chunk's probes in flight
(HEALTH_SCAN_CONCURRENCY on the workers): with 11% of the checks taking 1 s or the whole
timeout, a chunk of 5,000 at 200 spends about 3 s on those alone, at 400 half that.
"""

import argparse
import asyncio
import ipaddress
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools.processes import free_port, start_worker, stop_process, wait_for  # noqa: E402

TIMEOUT = 2.0
# What a probe vets addresses against: the link-local ranges of HEALTH_CHECK_DENY_NETWORKS
# (the checks here are loopback, so none is refused).
DENY = [ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10")]
# Broker, results and lock; emptied before and after (BENCH_REDIS_URL: another database).
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")
# The database and the workers' logs; removed at the end.
DATA = Path(tempfile.mkdtemp(prefix="aixops-bench-scan-"))


def path_for(n: int) -> str:
    if n % 100 == 0:
        return "/hang"
    if n % 10 == 5:
        return "/slow?seconds=1"
    return "/ok"


def process_cpu(pid: int) -> float:
    """CPU seconds (user and system) a process has used: the server's, which competes with
    the probes for this machine's cores."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> float:
    """CPU seconds a process and its children (a prefork worker's pool) have used."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return process_cpu(pid) + sum(process_cpu(int(child)) for child in children)


def measure(run) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def tally(outcomes) -> str:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome] = counts.get(outcome, 0) + 1
    return ", ".join(f"{key} {value}" for key, value in sorted(counts.items()))


def client_cpu(base: str, requests: int, concurrency: int) -> None:
    """CPU per request of httpx and aiohttp, the same requests, no connection kept."""
    import aiohttp
    import httpx

    url = f"{base}/ok"

    async def with_httpx():
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=0)
        async with httpx.AsyncClient(limits=limits, trust_env=False) as client:
            gate = asyncio.Semaphore(concurrency)

            async def one():
                async with gate:
                    return (await client.get(url, timeout=TIMEOUT)).status_code

            return await asyncio.gather(*(one() for _ in range(requests)))

    async def with_aiohttp():
        connector = aiohttp.TCPConnector(limit=concurrency, force_close=True)
        async with aiohttp.ClientSession(connector=connector) as client:
            # Gated like httpx: aiohttp's timeout also counts the wait for a free connection.
            gate = asyncio.Semaphore(concurrency)

            async def one():
                async with (
                    gate,
                    client.get(url, timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as r,
                ):
                    return r.status

            return await asyncio.gather(*(one() for _ in range(requests)))

    print(f"1. client CPU: {requests} GETs of /ok, {concurrency} at a time, no keep-alive")
    for name, run in (("httpx", with_httpx), ("aiohttp", with_aiohttp)):
        wall, cpu, statuses = measure(lambda run=run: asyncio.run(run()))
        ok = sum(status == 200 for status in statuses)
        print(
            f"   {name:>8} {httpx.__version__ if name == 'httpx' else aiohttp.__version__:>7}: "
            f"cpu {cpu * 1000 / requests:.3f} ms per request, wall {wall:.2f} s, {ok} x 200"
        )


def probing_pass(base: str, count: int, concurrency: int) -> None:
    from aixops.celery import tune_the_collector
    from portal.probes import ProbeSpec, probe_all

    tune_the_collector()

    specs = [
        ProbeSpec(key=n, kind="http", target=f"{base}{path_for(n)}", timeout=TIMEOUT)
        for n in range(count)
    ]
    wall, cpu, outcomes = measure(
        lambda: asyncio.run(probe_all(specs, concurrency=concurrency, deadline=45, deny=DENY))
    )
    false = sum(o.outcome == "down" and path_for(o.key) != "/hang" for o in outcomes)
    print(
        f"2. probe_all in this process, {count} checks, concurrency {concurrency}: "
        f"wall {wall:.2f} s, cpu {cpu:.2f} s = {cpu * 1000 / count:.3f} ms per probe; "
        f"{tally(o.outcome for o in outcomes)}; false downs {false}"
    )


def database_url() -> str:
    """The PostgreSQL database DATABASE_URL names, or SQLite in the temporary directory."""
    given = os.environ.get("DATABASE_URL", "")
    return given if given.startswith("postgres") else f"sqlite:///{DATA}/bench.sqlite3"


def setup_database(base: str, count: int) -> dict:
    """A fresh database (database_url(), emptied) with `count` HTTP checks; the
    environment a worker needs to reach it."""
    env = {
        "DATA_DIR": str(DATA),
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "aixops.settings",
        "CELERY_BROKER_URL": REDIS_URL,
        "CELERY_RESULT_BACKEND": REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "HEALTH_LOCK_URL": REDIS_URL,
        "HEALTH_LOCK_KEY": f"aixops-bench:{uuid.uuid4().hex}",
        "BROKER_NAMESPACE": "",
        "LOG_FORMAT": "text",
        "CONN_MAX_AGE": "0",
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    from portal.models import HealthCheck
    from tests.factories import make_category

    call_command("migrate", verbosity=0)
    call_command("flush", "--no-input", verbosity=0)
    category = make_category("bench", services=count)
    HealthCheck.objects.bulk_create(
        (
            HealthCheck(
                slug=f"bench-{n}",
                service=service,
                timeout=TIMEOUT,
                degraded_after_ms=None,
                target=f"{base}{path_for(n)}",
            )
            for n, service in enumerate(category.services.order_by("position"))
        ),
        batch_size=1000,
    )
    return env


class TaskEvents:
    """The workers' task events (sent, received, started, succeeded, failed), caught in a
    thread of this process from the moment it starts; `stop()` ends it."""

    def __init__(self, app) -> None:
        logging.getLogger("kombu.mixins").setLevel(logging.WARNING)  # "Connected to ..."
        self.events: list[dict] = []
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._listen, args=(app,), daemon=True)
        self.thread.start()
        self.ready.wait(10)

    def _listen(self, app) -> None:
        ready = self.ready

        class Receiver(app.events.Receiver):
            def on_consume_ready(self, *args, **kwargs) -> None:
                ready.set()

        with app.connection_for_read(REDIS_URL) as connection:
            self.receiver = Receiver(connection, handlers={"*": self.events.append})
            self.receiver.capture(limit=None, timeout=None, wakeup=False)

    def stop(self) -> None:
        self.receiver.should_stop = True
        self.thread.join(5)

    def times(self, name: str, kind: str) -> list[float]:
        """When each task named `name` (its last dotted part) reached `kind` (started,
        succeeded), in order."""
        names = {e["uuid"]: e["name"] for e in self.events if e.get("name")}
        return sorted(
            e["timestamp"]
            for e in self.events
            if e["type"] == f"task-{kind}" and names.get(e.get("uuid"), "").endswith(f".{name}")
        )


def phases(events: TaskEvents, queued: float, finished: float, log: str) -> str:
    """Where the wall went, in seconds from queueing, by the workers' task events, and
    how long each chunk loaded and probed and the finishing task read and wrote, by the
    lines portal/scans.py logs."""
    chunk_lines = re.findall(
        r"chunk of \d+ checks: loaded in ([\d.]+) s, probed in ([\d.]+) s", log
    )
    finish_line = re.search(r"outcomes read in ([\d.]+) s, recorded in ([\d.]+) s", log)
    plan_started, plan_done = (
        events.times("refresh_health", "started")[0],
        events.times("refresh_health", "succeeded")[0],
    )
    chunks_started = events.times("probe_chunk", "started")
    chunks_done = events.times("probe_chunk", "succeeded")
    finish_started = events.times("finish_scan", "started")[0]
    return (
        f"queue {plan_started - queued:.2f}, plan {plan_done - plan_started:.2f} "
        f"(to chunks starting {chunks_started[0] - queued:.2f}-{chunks_started[-1] - queued:.2f}), "
        f"chunks ending {chunks_done[0] - queued:.2f}-{chunks_done[-1] - queued:.2f} "
        f"(loading {'/'.join(load for load, _probe in chunk_lines)}, "
        f"probing {'/'.join(probe for _load, probe in chunk_lines)}), "
        f"hand-over to the finishing task {finish_started - chunks_done[-1]:.2f}, "
        f"finishing task {finished - finish_started:.2f} "
        f"(reading {finish_line.group(1)}, writing {finish_line.group(2)})"
    )


def scan_on_workers(
    env: dict, processes: int, chunk_size: int, concurrency: int, server_pid: int, note: str = ""
) -> None:
    import redis
    from django.db.models import Q

    from aixops.celery import app
    from portal.models import CheckResult, Scan

    queue = f"aixops-bench-{uuid.uuid4().hex[:8]}"
    log_path = Path(env["DATA_DIR"]) / f"{queue}.log"
    worker_env = {
        **os.environ,
        **env,
        "HEALTH_SCAN_CHUNK_SIZE": str(chunk_size),
        "HEALTH_SCAN_CONCURRENCY": str(concurrency),
    }
    worker = start_worker(
        queue=queue, env=worker_env, log_path=log_path, pool="prefork", concurrency=processes
    )
    events = TaskEvents(app)
    try:
        wait_for("the worker", lambda: "ready." in log_path.read_text(), timeout=60)
        Scan.objects.all().delete()
        cpu = tree_cpu(worker.pid), process_cpu(server_pid)
        with app.connection_for_write(REDIS_URL) as connection:
            queued, queued_at = time.perf_counter(), time.time()
            app.send_task("portal.tasks.refresh_health", queue=queue, connection=connection)
        scan = wait_for(
            "the scan to finish",
            lambda: Scan.objects.exclude(state=Scan.State.RUNNING).first(),
            timeout=300,
            every=0.05,
            explain=lambda: log_path.read_text()[-3000:],
        )
        wall = time.perf_counter() - queued
        workers_cpu = tree_cpu(worker.pid) - cpu[0]
        server_cpu = process_cpu(server_pid) - cpu[1]
        finished = re.compile(r"portal\.tasks\.finish_scan\[[^]]+\] succeeded in ([\d.]+)s")
        # The worker logs the finishing task once it returned, just after the commit.
        write = wait_for(
            f"the finishing task's log (the scan {scan.state})",
            lambda: finished.search(log_path.read_text()),
            explain=lambda: log_path.read_text()[-3000:],
        )
        finished_at = wait_for(
            "the finishing task's event", lambda: events.times("finish_scan", "succeeded")
        )[0]
        log = log_path.read_text()
        chunks = log.count("portal.tasks.probe_chunk[") // 2  # received, then succeeded
        false = (
            CheckResult.objects.filter(scan=scan, outcome="down")
            .exclude(Q(health_check__target__endswith="/hang"))
            .count()
        )
        print(
            f"   {processes} worker process{'es' if processes > 1 else ''}{note}: {scan.state}, "
            f"{chunks} chunk task(s) of up to {chunk_size}, concurrency {concurrency} each; "
            f"wall {wall:.2f} s = {wall / TIMEOUT:.2f} x the timeout "
            f"(finishing task {float(write.group(1)):.2f} s); "
            f"up {scan.up}, down {scan.down}, not settled {scan.unknown}; "
            f"false downs {false}"
        )
        # On a shared machine the wall waits for others' work too; the CPU does not.
        least = (workers_cpu + server_cpu) / os.cpu_count()
        print(
            f"   CPU meanwhile: the workers {workers_cpu:.2f} s, the server {server_cpu:.2f} s; "
            f"on {os.cpu_count()} idle cores at least {least:.2f} s = "
            f"{least / TIMEOUT:.2f} x the timeout"
        )
        went = phases(events, queued_at, finished_at, log)
        print(f"   where the wall went (s from queueing): {went}")
    finally:
        events.stop()
        stop_process(worker, grace=10)
        redis.Redis.from_url(REDIS_URL).flushdb()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checks", type=int, default=10_000)
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--chunk-size", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=400)
    parser.add_argument("--client-requests", type=int, default=2_000)
    args = parser.parse_args()

    print(
        f"cores {os.cpu_count()}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        f" (a shared machine); Python {sys.version.split()[0]}; server: tests/servers.py"
    )
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
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
        client_cpu(base, args.client_requests, concurrency=100)
        before = process_cpu(server.pid)
        probing_pass(base, args.checks, args.concurrency)
        print(f"   the server's CPU meanwhile: {process_cpu(server.pid) - before:.2f} s")
        env = setup_database(base, args.checks)
        print(
            f"3. scans of {args.checks} HTTP checks (timeout {TIMEOUT:g} s: 89% fast, "
            f"10% 1 s, 1% hang) on real workers, {database_url().split('://')[0]}, {REDIS_URL}"
        )
        counts = [int(p) for p in args.processes.split(",")]
        # As beat's scans follow one another, each scan probes first the checks that were
        # slowest (or silent) in the one before; the very first has nothing to go by.
        first = " (the checks' first scan: probed in the order of their ids)"
        scan_on_workers(env, max(counts), args.chunk_size, args.concurrency, server.pid, first)
        for processes in counts:
            scan_on_workers(env, processes, args.chunk_size, args.concurrency, server.pid)
    finally:
        server.terminate()
        server.wait(5)
        shutil.rmtree(DATA, ignore_errors=True)


if __name__ == "__main__":
    main()
