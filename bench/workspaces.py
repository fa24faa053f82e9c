"""Provision 200 workspaces through a real Celery worker; measure a 10,000-file workspace.

    .venv/bin/python bench/workspaces.py [--workspaces 200] [--files 10000] [--concurrency 4]

Uses a fresh SQLite file (or DATABASE_URL), the local backend in a temporary directory,
and the real Redis on 127.0.0.1:6379 (database 13, a queue named for the run, so a
developer's worker never takes these tasks). It requests N workspaces, provisions them all
with one call (what the admin's bulk action does), and times until the last one is
active; then it fills one workspace with F files and times the usage measurement the
periodic task runs. Goals: 200 workspaces in under 10 s; 10,000 files measured in under 1 s.
"""

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = "redis://127.0.0.1:6379/13"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspaces", type=int, default=200)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="aixops-bench-workspaces-"))
    os.environ.update(
        CELERY_TASK_ALWAYS_EAGER="false",
        CELERY_BROKER_URL=REDIS_URL,
        CELERY_RESULT_BACKEND=REDIS_URL,
        WORKSPACE_ROOT=str(scratch / "workspaces"),
        WORKSPACE_ARCHIVE=str(scratch / "archive"),
    )
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _django import setup

    setup()
    import redis
    from django.conf import settings
    from django.db import connection

    from accounts.models import User
    from aixops.celery import app
    from devtools.processes import start_worker, stop_process, wait_for
    from workspaces import services as workspace_services
    from workspaces.models import Workspace

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        database_url = f"sqlite:///{db['NAME']}"
    else:
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        database_url = (
            f"postgres://{db['USER']}{password}@{db.get('HOST') or '127.0.0.1'}:"
            f"{db.get('PORT') or 5432}/{db['NAME']}"
        )
    queue = f"aixops-bench-workspaces-{uuid.uuid4().hex[:8]}"
    app.conf.task_default_queue = queue

    run_id = uuid.uuid4().hex[:6]
    admin = User.objects.create_superuser(username=f"bench-admin-{run_id}", password=None)
    users = User.objects.bulk_create(
        User(username=f"ws-{run_id}-{n}", membership="approved") for n in range(args.workspaces)
    )
    user_ids = [u.pk for u in User.objects.filter(username__startswith=f"ws-{run_id}-")]
    Workspace.objects.request(user_ids, by=admin)
    ids = list(Workspace.objects.filter(owner_id__in=user_ids).values_list("pk", flat=True))
    assert len(ids) == len(users)

    redis.Redis.from_url(REDIS_URL).flushdb()
    log_path = scratch / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "aixops.settings",
    }
    worker = start_worker(
        queue=queue, env=env, log_path=log_path, pool="prefork", concurrency=args.concurrency
    )
    try:
        wait_for("the worker to start", lambda: "ready." in log_path.read_text())

        start = time.perf_counter()
        result = Workspace.objects.provision(ids, by=admin)  # commits, then queues one task each
        queued = time.perf_counter() - start
        assert len(result.changed) == len(ids), result
        pending = Workspace.objects.filter(pk__in=ids, status="provisioning")
        while pending.exists():
            if time.perf_counter() - start > 300:
                raise SystemExit("provisioning did not finish in 300 s")
            time.sleep(0.05)
        elapsed = time.perf_counter() - start
        active = Workspace.objects.filter(pk__in=ids, status="active").count()
        failed = Workspace.objects.filter(pk__in=ids, status="failed").count()
        directories = sum(1 for _ in (scratch / "workspaces").iterdir())
    finally:
        stop_process(worker, grace=30)
        redis.Redis.from_url(REDIS_URL).flushdb()

    print(
        f"provision {len(ids)} workspaces through a worker ({args.concurrency} processes, "
        f"{connection.vendor}): {elapsed:6.2f} s "
        f"({len(ids) / elapsed:5.1f}/s; queued in {queued * 1000:.0f} ms); "
        f"{active} active, {failed} failed, {directories} directories"
    )
    print(f"goal: < 10 s -> {'met' if elapsed < 10 and active == len(ids) else 'NOT met'}")

    # One workspace filled with many small files in nested directories.
    big = Workspace.objects.select_related("owner").get(pk=ids[0])
    base = Path(big.location)
    per_dir = 100
    for n in range(args.files - 1):  # the README is the last file
        directory = base / f"d{n // per_dir // 10}" / f"e{n // per_dir}"
        if n % per_dir == 0:
            directory.mkdir(parents=True, exist_ok=True)
        (directory / f"f{n}.txt").write_bytes(b"x" * (n % 4096))
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        summary = workspace_services.measure_usage(workspace_id=big.pk)
        timings.append(time.perf_counter() - start)
    print(
        f"usage of a {summary['files']}-file workspace ({summary['bytes'] / 2**20:.1f} MiB on "
        f"disk): best {min(timings) * 1000:.0f} ms, first {timings[0] * 1000:.0f} ms "
        f"(the periodic task's per-workspace job)"
    )
    print(f"goal: < 1000 ms -> {'met' if min(timings) < 1 else 'NOT met'}")
    print(f"scratch: {scratch} (WORKSPACE_ROOT={settings.WORKSPACE_ROOT})")


if __name__ == "__main__":
    main()
