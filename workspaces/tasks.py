"""Celery tasks of workspaces: thin adapters that take ids and call the services."""

from celery import shared_task
from django.conf import settings

from . import services


# Workspace operations are not retried automatically: a failure marks the workspace
# `failed` with the message, and an admin decides. The time limit bounds a stuck backend;
# services.fail_abandoned reads the same setting to tell a dead worker's claim.
@shared_task(
    name="workspaces.tasks.run_operation",
    time_limit=settings.WORKSPACE_TASK_TIME_LIMIT,
    soft_time_limit=settings.WORKSPACE_TASK_SOFT_TIME_LIMIT,
)
def run_operation(workspace_id: int, operation: str) -> dict:
    """Call the workspace backend for a queued provision, suspend, resume or delete."""
    return services.run_operation(workspace_id=workspace_id, operation=operation)


@shared_task(name="workspaces.tasks.measure_usage", time_limit=600, soft_time_limit=540)
def measure_usage(workspace_id: int) -> dict:
    """Measure one workspace's usage."""
    return services.measure_usage(workspace_id=workspace_id)


@shared_task(name="workspaces.tasks.stop_idle", time_limit=600, soft_time_limit=540)
def stop_idle() -> dict:
    """The periodic task of the idle policy (WORKSPACE_IDLE_TIMEOUT)."""
    return services.stop_idle()


@shared_task(name="workspaces.tasks.reconcile", time_limit=300, soft_time_limit=240)
def reconcile() -> dict:
    """The periodic comparison of the backends with the portal (the drift)."""
    return services.reconcile()


@shared_task(name="workspaces.tasks.refresh_usage", time_limit=60)
def refresh_usage() -> dict:
    """The periodic task: one measurement per active or suspended workspace (so a large
    one does not hold up the rest), and abandoned operations marked failed."""
    targets = services.usage_targets()
    for workspace_id in targets:
        measure_usage.delay(workspace_id)
    return {"queued": len(targets), "abandoned": services.fail_abandoned()}
