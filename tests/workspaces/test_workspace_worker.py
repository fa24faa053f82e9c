"""End to end through a real Celery worker on the real Redis: a member requests a workspace
on their page, an admin provisions, suspends and deletes it in the Admin UI, and a worker
process does the backend's part on a real disk (tests/accounts/live_worker.py).
"""

import stat
import tarfile

import pytest

from audit.models import AuditEvent
from devtools.processes import wait_for
from tests.factories import client_for
from tests.live_worker import log_tail
from tests.workspaces.workspace_helpers import audit_actions
from workspaces import tasks as workspace_tasks
from workspaces.models import Workspace

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CHANGELIST = "/admin/workspaces/workspace/"


def status_of(workspace_id: int) -> tuple[str, str]:
    return tuple(Workspace.objects.filter(pk=workspace_id).values_list("status", "operation")[0])


def test_a_workspace_lives_and_dies_through_a_real_worker(worker, bob, sam, settings):
    client = client_for(sam)
    client_for(bob).post("/accounts/workspace/request/")
    workspace = Workspace.objects.get(owner=bob)

    client.post(
        CHANGELIST,
        {"action": "provision_workspaces", "_selected_action": [workspace.pk], "apply": "1"},
    )
    wait_for(
        "provisioning", lambda: status_of(workspace.pk) == ("active", ""), explain=log_tail(worker)
    )
    workspace.refresh_from_db()
    path = settings.WORKSPACE_ROOT / "bob"
    assert workspace.location == str(path) and (path / "README.md").is_file()
    assert f"Task workspaces.tasks.run_operation[{workspace.task_id}]" in (worker.read_text())

    # The same task delivered again (a redelivery after a lost ack): it finds nothing queued.
    workspace_tasks.run_operation.apply_async(
        args=[workspace.pk, "provision"], task_id=workspace.task_id
    )
    client.post(
        CHANGELIST,
        {"action": "suspend_workspaces", "_selected_action": [workspace.pk], "apply": "1"},
    )
    # The queue is first in, first out on one solo worker: the suspend ran after the repeat.
    wait_for(
        "suspension", lambda: status_of(workspace.pk) == ("suspended", ""), explain=log_tail(worker)
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o2550
    assert AuditEvent.objects.filter(workspace=workspace, action="workspace.ready").count() == 1
    assert "not queued: done already" in worker.read_text()

    client.post(
        CHANGELIST,
        {"action": "delete_workspaces", "_selected_action": [workspace.pk], "apply": "1"},
    )
    wait_for(
        "deletion", lambda: status_of(workspace.pk) == ("deleted", ""), explain=log_tail(worker)
    )
    workspace.refresh_from_db()
    assert not path.exists()
    with tarfile.open(workspace.archive) as tar:
        assert "bob/README.md" in tar.getnames()
    assert audit_actions(workspace) == [
        "workspace.request",
        "workspace.provision",
        "workspace.ready",
        "workspace.suspend",
        "workspace.delete",
        "workspace.deleted",
    ]
