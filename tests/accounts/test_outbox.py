"""The outbox: what follows a committed change (notices, workspace operations, usage) is
written with it, sent once it commits, and, when the broker is away, kept until the beat
task sends it, once. The broker is "down" when the settings point at a closed loopback
port; it is the real Redis (the tests' database) when it is back."""

import json
import uuid
from datetime import timedelta

import pytest
import redis
from django.conf import settings as django_settings
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from accounts import tasks
from accounts.models import User
from accounts.services import Identity, sign_in_member
from aixops import outbox
from aixops import tasks as aixops_tasks
from aixops.celery import app
from aixops.models import OutboxTask
from audit.models import AuditEvent
from devtools.processes import wait_for
from tests.factories import client_for
from tests.live_worker import log_tail
from tests.servers import SmtpServer
from tests.subprocesses import TEST_REDIS_URL
from workspaces.models import Workspace

# The pages tell what waits right after the change commits: tests of them commit for real.
committing = pytest.mark.django_db(transaction=True)
QUEUE = "/admin/accounts/pendingmember/"
WORKSPACES = "/admin/workspaces/workspace/"
WAITING = "The work is waiting: the broker is unreachable;"


@pytest.fixture
def broker_down(settings, refused_port, tasks_go_to_the_broker):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{refused_port}/0"


@pytest.fixture
def frank(django_user_model):
    return django_user_model.objects.create_user(
        username="frank", email="frank@example.com", membership="pending"
    )


def act(client, url, action, *objects, language="en", **extra):
    return client.post(
        url,
        {"action": action, "_selected_action": [o.pk for o in objects], **extra},
        headers={"accept-language": language},
        follow=True,
    )


@committing
def test_approving_with_the_broker_down_answers_and_says_the_work_is_waiting(
    carol, sam, broker_down
):
    page = act(client_for(sam), QUEUE, "approve", carol)
    assert page.status_code == 200
    assert "Approve: 1 member." in page.text
    assert f"{WAITING} 1 task will be sent when it is back." in page.text
    carol.refresh_from_db()
    assert carol.membership == "approved"
    # The workspace request is state, made in the same transaction as the approval.
    assert Workspace.objects.get(owner=carol).status == "requested"
    notice = OutboxTask.objects.get()
    assert (notice.task, notice.args) == (
        "accounts.tasks.notify_members",
        ["approve", [carol.pk], ""],
    )
    assert notice.sent_at is None and notice.attempts == 1
    assert "Connection refused" in notice.last_error
    assert mail.outbox == []
    waiting = client_for(sam).get("/admin/aixops/outboxtask/", {"sent_at__isempty": "1"})
    assert waiting.status_code == 200 and "accounts.tasks.notify_members" in waiting.text


@committing
def test_provisioning_with_the_broker_down_keeps_the_operation_to_send(bob, sam, broker_down):
    workspace = Workspace.objects.create(owner=bob, backend="local")
    page = act(
        client_for(sam), WORKSPACES, "provision_workspaces", workspace, apply="1", language="ko"
    )
    assert page.status_code == 200
    assert "브로커에 연결할 수 없습니다. 브로커가 돌아오면 작업 1건을 보냅니다." in page.text
    workspace.refresh_from_db()
    assert (workspace.status, workspace.operation) == ("provisioning", "provision")
    operation = OutboxTask.objects.get()
    assert operation.task_id == workspace.task_id  # the task Flower will show is this one
    assert operation.args == [workspace.pk, "provision"] and operation.sent_at is None


@committing
def test_a_change_with_the_broker_up_says_nothing_is_waiting(carol, sam):
    page = act(client_for(sam), QUEUE, "approve", carol)
    assert "Approve: 1 member." in page.text and WAITING not in page.text
    assert OutboxTask.objects.get().sent_at is not None
    assert len(mail.outbox) == 1


def test_a_sign_up_with_the_broker_down_signs_in_and_keeps_the_admins_notice(
    db, broker_down, committed
):
    with committed():
        user = sign_in_member(identity=Identity(subject="s-1", username="gina"), ip=None)
    assert user.membership == "pending"
    notice = OutboxTask.objects.get()
    assert (notice.task, notice.args, notice.sent_at) == (
        "accounts.tasks.notify_admins",
        [user.pk],
        None,
    )


@committing
def test_the_members_command_says_what_waits(carol, broker_down, capsys):
    call_command("members", "approve", "carol")
    assert "waiting: the broker is unreachable; 1 task(s)" in capsys.readouterr().out


def test_the_beat_task_sends_what_waited_once_the_broker_is_back(
    carol, frank, sam, settings, broker_down, committed
):
    with committed():
        act(client_for(sam), QUEUE, "approve", carol, frank)
    waiting = OutboxTask.objects.get()
    queue = f"aixops-test-outbox-{uuid.uuid4().hex[:8]}"
    settings.CELERY_BROKER_URL = TEST_REDIS_URL
    client = redis.Redis.from_url(TEST_REDIS_URL)
    previous, app.conf.task_default_queue = app.conf.task_default_queue, queue
    try:
        assert aixops_tasks.send_outbox() == {"sent": 1, "waiting": 0, "forgotten": 0}
        assert aixops_tasks.send_outbox() == {"sent": 0, "waiting": 0, "forgotten": 0}
        messages = [json.loads(m) for m in client.lrange(queue, 0, -1)]
    finally:
        app.conf.task_default_queue = previous
        for key in client.scan_iter(f"*{queue}*"):
            client.delete(key)
    assert [(m["headers"]["task"], m["headers"]["id"]) for m in messages] == [
        ("accounts.tasks.notify_members", waiting.task_id)
    ]
    waiting.refresh_from_db()
    assert waiting.sent_at is not None and waiting.last_error == ""


def test_a_task_another_sender_holds_is_not_sent_again(db):
    held = OutboxTask.objects.create(
        task="accounts.tasks.notify_admins", args=[0], task_id="held", claimed_at=timezone.now()
    )
    assert outbox.send() == {"sent": 0, "waiting": 0}
    # A sender that died holding it: the claim lapses and the next sweep sends it.
    long_ago = timezone.now() - timedelta(seconds=outbox.CLAIM_SECONDS + 1)
    OutboxTask.objects.filter(pk=held.pk).update(claimed_at=long_ago)
    assert outbox.send() == {"sent": 1, "waiting": 0}
    held.refresh_from_db()
    assert held.sent_at is not None and held.attempts == 1


def test_a_notice_delivered_twice_mails_once(carol, alice, committed):
    with committed():
        carol.approve(by=alice)
    assert len(mail.outbox) == 1
    notice = OutboxTask.objects.get(task="accounts.tasks.notify_members")
    again = tasks.notify_members.apply(args=notice.args, task_id=notice.task_id).get()
    assert again == {"skipped": "delivered before"}
    assert len(mail.outbox) == 1


def test_a_delivery_whose_work_failed_leaves_it_to_the_retry(db):
    row = OutboxTask.objects.create(task="accounts.tasks.notify_admins", args=[0], task_id="t")
    with pytest.raises(OSError), outbox.first_delivery("t") as first:
        assert first
        raise OSError("mail server away")
    with outbox.first_delivery("t") as first:
        assert first
    with outbox.first_delivery("t") as first:
        assert not first
    row.refresh_from_db()
    assert row.started_at is not None


def test_sent_tasks_are_forgotten_after_a_week(db):
    now = timezone.now()
    for task_id, sent_at in [("old", now - timedelta(days=8)), ("new", now), ("unsent", None)]:
        OutboxTask.objects.create(task="t", task_id=task_id, sent_at=sent_at)
    assert outbox.prune(now=now) == 1
    assert set(OutboxTask.objects.values_list("task_id", flat=True)) == {"new", "unsent"}


def test_the_outbox_is_swept_by_beat():
    entry = django_settings.CELERY_BEAT_SCHEDULE["outbox"]
    assert entry["task"] == "aixops.tasks.send_outbox"
    assert entry["schedule"] == django_settings.OUTBOX_INTERVAL


# --- End to end: admins act with the broker down, a real worker catches up ------------------


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def worker_env(smtp) -> dict:
    """The worker mails through the test's SMTP server."""
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp.port),
    }


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_decisions_made_with_the_broker_down_are_carried_out_once_when_it_is_back(
    worker, smtp, settings, refused_port, carol, frank, bob, sam, django_user_model
):
    helen = django_user_model.objects.create_user(
        username="helen", email="helen@example.com", membership="pending"
    )
    requested = Workspace.objects.create(owner=bob, backend="local")
    client = client_for(sam)

    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{refused_port}/0"  # the broker is away
    pages = [
        act(client, QUEUE, "approve", carol, frank),
        act(client, QUEUE, "reject", helen, apply="1", reason="not on the team"),
        act(client, WORKSPACES, "provision_workspaces", requested, apply="1"),
    ]
    assert [page.status_code for page in pages] == [200, 200, 200]
    assert all(WAITING in page.text for page in pages)
    assert set(
        User.objects.filter(pk__in=[carol.pk, frank.pk, helen.pk]).values_list(
            "username", "membership"
        )
    ) == {("carol", "approved"), ("frank", "approved"), ("helen", "rejected")}
    assert OutboxTask.objects.filter(sent_at__isnull=True).count() == 3
    assert smtp.messages == []

    settings.CELERY_BROKER_URL = TEST_REDIS_URL  # back: what beat calls every interval
    assert aixops_tasks.send_outbox()["sent"] == 3
    assert aixops_tasks.send_outbox()["sent"] == 0
    wait_for(
        "the notices and the provisioning",
        lambda: (
            len(smtp.messages) == 3 and Workspace.objects.get(pk=requested.pk).status == "active"
        ),
        explain=log_tail(worker),
    )
    assert sorted(message["To"] for message in smtp.messages) == [
        "carol@example.com",
        "frank@example.com",
        "helen@example.com",
    ]
    # The approved members' workspaces were requested with their approval.
    assert set(
        Workspace.objects.filter(owner__in=[carol, frank]).values_list("status", flat=True)
    ) == {"requested"}

    # The same notice sent again (a sender that died before marking it sent): no second mail.
    notice = OutboxTask.objects.get(task="accounts.tasks.notify_members", args__0="approve")
    OutboxTask.objects.filter(pk=notice.pk).update(sent_at=None)
    assert aixops_tasks.send_outbox()["sent"] == 1
    wait_for(
        "the repeat", lambda: "delivered before" in worker.read_text(), explain=log_tail(worker)
    )
    assert len(smtp.messages) == 3
    ready = AuditEvent.objects.filter(workspace=requested, action="workspace.ready")
    assert ready.count() == 1
