"""Provision workspaces on a real JupyterHub: time from *provision* to a ready server, and
the portal's own time per operation with the hub's left out.

    .venv/bin/python bench/workspaces_hub.py [--members 20] [--concurrency 4]

Starts the test hub (tests/hub.py: the embedded hub's configuration, the real
configurable-http-proxy, single-user servers as local processes) on free loopback ports,
on a fresh SQLite file (or DATABASE_URL). Tasks run in process (as the worker would run
them), `--concurrency` members at a time, so each provision call returns once the member's
server is ready: that is the time from provision to ready. The backend's calls are timed
apart; what is left is the portal's share (the claim, the audit, the outbox, the task's
claim and finish). The hub and every server are stopped at the end.
"""

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _django import setup

    setup()
    from django.conf import settings
    from django.db import connection, connections

    from accounts.models import User
    from tests.hub import Hub
    from workspaces import tasks  # noqa: F401  (the operation task, run in process)
    from workspaces.backends.jupyterhub import JupyterHubBackend
    from workspaces.models import Workspace

    hub = Hub(Path(tempfile.mkdtemp(prefix="aixops-bench-hub-")))
    hub.start()
    settings.WORKSPACE_BACKEND = "jupyterhub"
    settings.JUPYTERHUB_URL = hub.url
    settings.JUPYTERHUB_API_TOKEN = hub.token

    hub_seconds: dict[str, float] = {}
    provision = JupyterHubBackend.provision

    def timed_provision(self, spec):
        start = time.perf_counter()
        try:
            return provision(self, spec)
        finally:
            hub_seconds[spec.username] = time.perf_counter() - start

    JupyterHubBackend.provision = timed_provision

    run_id = uuid.uuid4().hex[:6]
    admin = User.objects.create_superuser(username=f"bench-admin-{run_id}", password=None)
    User.objects.bulk_create(
        User(username=f"hub-{run_id}-{n}", membership="approved") for n in range(args.members)
    )
    members = User.objects.filter(username__startswith=f"hub-{run_id}-")
    Workspace.objects.request([member.pk for member in members], by=admin)
    workspaces = list(Workspace.objects.filter(owner__in=members).select_related("owner"))

    def provision_one(workspace) -> tuple[str, float]:
        try:
            start = time.perf_counter()
            workspace.provision(by=admin)  # the task runs in process once this commits
            return workspace.owner.username, time.perf_counter() - start
        finally:
            connections.close_all()

    try:
        start = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            totals = dict(pool.map(provision_one, workspaces))
        elapsed = time.perf_counter() - start
        active = Workspace.objects.filter(pk__in=[w.pk for w in workspaces], status="active")
        ready = sum(1 for w in active if hub.user(w.owner.username)["servers"][""]["ready"])
    finally:
        hub.stop()

    to_ready = list(totals.values())
    portal = [totals[name] - hub_seconds.get(name, 0.0) for name in totals]
    print(
        f"provision {len(workspaces)} workspaces on a real JupyterHub, {args.concurrency} at a "
        f"time ({connection.vendor}): {elapsed:.1f} s in all; {ready} servers ready"
    )
    print(
        f"provision to ready server: p50 {percentile(to_ready, 0.5):.2f} s, "
        f"p95 {percentile(to_ready, 0.95):.2f} s, max {max(to_ready):.2f} s"
    )
    print(
        f"the portal's time per provision, the hub's excluded: mean "
        f"{statistics.mean(portal) * 1000:.0f} ms, p95 {percentile(portal, 0.95) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
