"""The workspace tasks: a task delivered twice calls the backend once, a backend failure
marks the workspace failed and a retry finishes the job, usage is measured periodically."""

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from audit.models import AuditEvent
from tests.workspaces import workspace_helpers
from workspaces import services as workspace_services
from workspaces import tasks as workspace_tasks
from workspaces.models import Workspace


@pytest.fixture
def scripted(monkeypatch, settings):
    return workspace_helpers.install(monkeypatch, settings)


def queued_provision(bob, alice, django_capture_on_commit_callbacks) -> Workspace:
    """Bob's workspace with the provision queued, the task not yet delivered."""
    Workspace.objects.request([bob.pk], by=bob)
    workspace = Workspace.objects.get(owner=bob)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        workspace.provision(by=alice)
    assert len(callbacks) == 1  # the task waits for the commit
    workspace.refresh_from_db()
    return workspace


def test_a_task_delivered_twice_provisions_once(
    bob, alice, scripted, django_capture_on_commit_callbacks
):
    workspace = queued_provision(bob, alice, django_capture_on_commit_callbacks)
    first = workspace_tasks.run_operation.apply(
        args=[workspace.pk, "provision"], task_id=workspace.task_id
    ).get()
    second = workspace_tasks.run_operation.apply(
        args=[workspace.pk, "provision"], task_id=workspace.task_id
    ).get()
    assert scripted.calls == [("provision", "bob")]
    assert first["status"] == "active"
    assert first["location"] == "https://hub.example.com/user/bob/"
    assert "skipped" in second
    assert AuditEvent.objects.filter(workspace=workspace, action="workspace.ready").count() == 1


def test_a_delivery_racing_a_running_one_does_nothing(
    bob, alice, scripted, django_capture_on_commit_callbacks
):
    workspace = queued_provision(bob, alice, django_capture_on_commit_callbacks)
    # The first delivery has claimed the row and is still talking to the backend.
    Workspace.objects.filter(pk=workspace.pk).update(operation_claimed_at=timezone.now())
    result = workspace_services.run_operation(workspace_id=workspace.pk, operation="provision")
    assert "skipped" in result and scripted.calls == []


def test_a_stale_task_for_another_operation_is_ignored(bob, scripted):
    workspace = Workspace.objects.create(owner=bob, backend="scripted", status="active")
    result = workspace_services.run_operation(workspace_id=workspace.pk, operation="suspend")
    assert "skipped" in result and scripted.calls == []


def test_the_task_id_is_stored_before_the_task_runs(
    bob, alice, scripted, django_capture_on_commit_callbacks
):
    workspace = queued_provision(bob, alice, django_capture_on_commit_callbacks)
    assert len(workspace.task_id) == 36 and workspace.operation == "provision"


def test_backend_failure_then_retry(bob, alice, committed, settings, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    settings.WORKSPACE_ROOT = blocker  # the local backend cannot make directories here
    Workspace.objects.request([bob.pk], by=bob)
    workspace = Workspace.objects.get(owner=bob)
    with committed():
        workspace.provision(by=alice)
    workspace.refresh_from_db()
    assert workspace.status == "failed"
    assert workspace.operation == "provision"  # what a retry runs again
    assert workspace.last_error.startswith(f"Cannot create {blocker}/bob")
    failed = AuditEvent.objects.get(workspace=workspace, action="workspace.failed")
    assert failed.automatic and failed.reason == workspace.last_error
    first_task = workspace.task_id

    settings.WORKSPACE_ROOT = tmp_path / "workspaces"  # the operator fixed the disk
    with committed():
        assert workspace.retry(by=alice) is True
    workspace.refresh_from_db()
    assert workspace.status == "active" and workspace.last_error == ""
    assert workspace.location == str(tmp_path / "workspaces" / "bob")
    assert workspace.task_id != first_task
    assert workspace_helpers.audit_actions(workspace) == [
        "workspace.request",
        "workspace.provision",
        "workspace.failed",
        "workspace.retry",
        "workspace.ready",
    ]


def test_a_failed_suspend_is_retried_as_a_suspend(bob, alice, scripted, committed):
    workspace = Workspace.objects.create(owner=bob, backend="scripted", status="active")
    scripted.fail = {"suspend"}
    with committed():
        workspace.suspend(by=alice)
    workspace.refresh_from_db()
    assert (workspace.status, workspace.operation) == ("failed", "suspend")
    scripted.fail = set()
    with committed():
        workspace.retry(by=alice)
    workspace.refresh_from_db()
    assert (workspace.status, workspace.operation) == ("suspended", "")
    assert scripted.calls == [("suspend", "bob"), ("suspend", "bob")]


def test_only_failed_workspaces_are_retried(bob, alice):
    workspace = Workspace.objects.create(owner=bob, backend="local", status="active")
    assert Workspace.objects.retry([workspace.pk], by=alice).unchanged == [workspace.pk]


def test_a_claim_the_worker_never_finished_becomes_failed_and_retryable(bob, alice, scripted):
    workspace = Workspace.objects.create(
        owner=bob, backend="scripted", status="provisioning", operation="provision"
    )
    long_ago = timezone.now() - timedelta(seconds=django_settings.CELERY_TASK_TIME_LIMIT + 120)
    Workspace.objects.filter(pk=workspace.pk).update(operation_claimed_at=long_ago)
    assert workspace_services.fail_abandoned() == 1
    workspace.refresh_from_db()
    assert workspace.status == "failed" and "never finished" in workspace.last_error
    assert workspace.retry(by=alice) is True


def test_the_periodic_task_measures_active_and_suspended_workspaces(bob, alice, scripted, erin):
    scripted.usage_bytes = 3 * 1024**3
    active = Workspace.objects.create(owner=bob, backend="scripted", status="active", quota_gib=2)
    requested = Workspace.objects.create(owner=erin, backend="scripted", status="requested")
    summary = workspace_tasks.refresh_usage.apply().get()
    assert summary == {"queued": 1, "abandoned": 0}
    active.refresh_from_db()
    requested.refresh_from_db()
    assert active.usage_bytes == 3 * 1024**3 and active.usage_files == 3
    assert active.usage_measured_at is not None and active.is_over_quota
    assert requested.usage_measured_at is None
    assert scripted.calls == [("usage", "bob")]


def test_usage_of_a_real_workspace_counts_its_bytes(bob, alice, committed):
    Workspace.objects.request([bob.pk], by=bob)
    workspace = Workspace.objects.get(owner=bob)
    with committed():
        workspace.provision(by=alice)
    workspace.refresh_from_db()
    with open(f"{workspace.location}/data.bin", "wb") as handle:
        handle.write(b"x" * 100_000)
    result = workspace_tasks.measure_usage.apply(args=[workspace.pk]).get()
    assert result["files"] == 2 and result["over_quota"] is False
    workspace.refresh_from_db()
    assert 100_000 <= workspace.usage_bytes < 200_000


def test_usage_is_in_the_beat_schedule():
    entry = django_settings.CELERY_BEAT_SCHEDULE["workspace-usage"]
    assert entry["task"] == "workspaces.tasks.refresh_usage"
    assert entry["schedule"] == django_settings.WORKSPACE_USAGE_INTERVAL
