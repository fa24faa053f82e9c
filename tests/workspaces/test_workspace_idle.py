"""The idle policy: an active workspace unused for WORKSPACE_IDLE_TIMEOUT has its server
stopped by the periodic task, audited and shown as stopped (idle); the member starts it
again from My workspace."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from tests.factories import client_for
from tests.workspaces import workspace_helpers
from workspaces import services as workspace_services
from workspaces.models import Workspace

PAGE = "/accounts/workspace/"
START = "/accounts/workspace/start/"


@pytest.fixture
def scripted(monkeypatch, settings):
    settings.WORKSPACE_IDLE_TIMEOUT = 3600
    return workspace_helpers.install(monkeypatch, settings)


def active_since(owner, last_used) -> Workspace:
    return Workspace.objects.create(
        owner=owner,
        backend="scripted",
        status="active",
        location="https://hub.example.com/user/bob/",
        last_activity=last_used,
    )


def test_an_idle_workspace_is_stopped_and_its_member_starts_it_again(
    bob, bob_client, scripted, committed
):
    two_hours_ago = timezone.now() - timedelta(hours=2)
    workspace = active_since(bob, two_hours_ago)
    scripted.last_activity = two_hours_ago  # the fresh measurement agrees

    with committed():
        summary = workspace_services.stop_idle()
    workspace.refresh_from_db()
    assert summary == {"stopped": 1, "checked": 1}
    assert scripted.calls == [("usage", "bob"), ("stop", "bob")]
    assert workspace.status == "active" and workspace.idle_stopped_at is not None
    stopped = AuditEvent.objects.get(workspace=workspace, action="workspace.idle_stop")
    assert stopped.automatic and "WORKSPACE_IDLE_TIMEOUT" in stopped.reason

    page = bob_client.get(PAGE, headers={"accept-language": "en"}).text
    assert "Stopped (idle)" in page and 'id="workspace-start"' in page
    assert 'id="workspace-location"' not in page

    with committed():
        assert bob_client.post(START).status_code == 302
    workspace.refresh_from_db()
    assert scripted.calls[-1] == ("start", "bob")
    assert (workspace.status, workspace.idle_stopped_at, workspace.operation) == (
        "active",
        None,
        "",
    )
    started = AuditEvent.objects.get(workspace=workspace, action="workspace.start")
    assert started.actor == bob and not started.automatic
    page = bob_client.get(PAGE, headers={"accept-language": "en"}).text
    assert 'id="workspace-location"' in page


def test_a_member_back_since_the_last_measurement_is_left_alone(bob, scripted, committed):
    workspace = active_since(bob, timezone.now() - timedelta(hours=2))
    scripted.last_activity = timezone.now() - timedelta(minutes=1)
    with committed():
        summary = workspace_services.stop_idle()
    workspace.refresh_from_db()
    assert summary == {"stopped": 0, "checked": 1}
    assert scripted.calls == [("usage", "bob")]
    assert workspace.idle_stopped_at is None
    assert workspace.last_activity == scripted.last_activity


def test_recently_used_and_already_stopped_workspaces_are_not_asked(bob, sam, scripted):
    active_since(bob, timezone.now() - timedelta(minutes=5))
    Workspace.objects.create(
        owner=sam,
        backend="scripted",
        status="active",
        last_activity=timezone.now() - timedelta(days=1),
        idle_stopped_at=timezone.now() - timedelta(hours=20),
    )
    assert workspace_services.stop_idle() == {"stopped": 0, "checked": 0}
    assert scripted.calls == []


def test_stopping_twice_stops_once(bob, scripted, committed):
    workspace = active_since(bob, timezone.now() - timedelta(hours=2))
    scripted.last_activity = workspace.last_activity
    with committed():
        workspace_services.stop_idle()
        workspace_services.stop_idle()
    assert [call for call in scripted.calls if call[0] == "stop"] == [("stop", "bob")]
    assert AuditEvent.objects.filter(action="workspace.idle_stop").count() == 1


def test_no_policy_without_a_timeout(bob, scripted, settings):
    settings.WORKSPACE_IDLE_TIMEOUT = 0
    active_since(bob, timezone.now() - timedelta(days=30))
    assert workspace_services.stop_idle()["stopped"] == 0
    assert scripted.calls == []


def test_starting_a_running_workspace_does_nothing(bob, bob_client, scripted, committed):
    workspace = active_since(bob, timezone.now())
    with committed():
        bob_client.post(START)
    assert scripted.calls == []
    assert not AuditEvent.objects.filter(workspace=workspace).exists()


def test_a_suspended_member_cannot_start_it(erin, scripted, committed):
    workspace = active_since(erin, timezone.now() - timedelta(hours=2))
    Workspace.objects.filter(pk=workspace.pk).update(idle_stopped_at=timezone.now())
    with committed():
        assert client_for(erin).post(START).status_code == 403
    workspace.refresh_from_db()
    assert workspace.idle_stopped_at is not None and scripted.calls == []
