"""Alerts: one per real change of an item's status, folded along dependencies, silent in
maintenance, delivered once per channel to real receivers on loopback (an SMTP server and
an HTTP server that records webhook POSTs and checks their signature)."""

import socket
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from portal import tasks
from portal.models import (
    AlertEvent,
    Channel,
    Delivery,
    HealthCheck,
    Incident,
    MaintenanceWindow,
    Service,
)
from portal.notify import delivery_attempt
from portal.scans import scan_run
from tests.factories import client_for, make_gitlab_down_alert
from tests.portal.alerting import SECRET, check_for, signed_correctly

# --- One alert per real change ------------------------------------------------------------


def test_a_service_that_fails_is_alerted_once_after_its_threshold_and_once_when_back(
    catalog, default_channels, service, receiver, smtp, scan
):
    check_for("gitlab", service.url("/-/health"), failures_before_down=2)
    scan()  # up: the first settled status is nobody's news
    service.get_status = 500
    scan()  # one failure: below the threshold
    assert receiver.posts == [] and smtp.messages == []

    scan()  # the second: down
    scan()  # still down: no news
    service.get_status = 200
    scan()  # recovered

    assert [post["event"] for post in receiver.json_posts()] == ["down", "recovered"]
    down, recovered = receiver.json_posts()
    incident = Incident.objects.get()
    assert down == {
        "event": "down",
        "category": "devops",
        "item": "gitlab",
        "name": "GitLab",
        "status": "down",
        "cause": "gitlab",
        "affected": [],
        "incident": incident.pk,
        "detail": "HTTP 500",
        "at": down["at"],
        "url": "http://127.0.0.1:8000/categories/devops/",
    }
    assert timezone.datetime.fromisoformat(down["at"]).tzinfo is not None
    assert (recovered["incident"], incident.state) == (incident.pk, "resolved")
    assert all(signed_correctly(headers, body) for _path, headers, body in receiver.posts)
    assert {path for path, _headers, _body in receiver.posts} == {"/hooks/aixops"}

    assert [message["To"] for message in smtp.messages] == ["ops@example.com"] * 2
    subjects = [message["Subject"] for message in smtp.messages]
    assert subjects == ["[AIXOps] GitLab 서비스 중단", "[AIXOps] GitLab 복구됨"]
    assert "HTTP 500" in smtp.messages[0].get_content()

    assert AlertEvent.objects.count() == 2
    assert set(Delivery.objects.values_list("state", "attempts")) == {("sent", 1)}


def test_a_data_store_and_its_two_dependents_failing_together_send_one_alert(
    catalog, default_channels, service, receiver, refused_port, scan
):
    check_for("celery-redis", f"127.0.0.1:{refused_port}", kind="tcp")
    check_for("flower", service.url("/"))
    check_for("admin-ui", service.url("/"))
    service.get_status = 503
    scan()
    scan()  # all three down in the same scan (two failures each)

    (alert,) = receiver.json_posts()
    assert (alert["event"], alert["item"], alert["cause"]) == ("down",) + ("celery-redis",) * 2
    assert alert["affected"] == ["admin-ui", "flower"]
    assert HealthCheck.objects.filter(reported_status="down").count() == 3

    service.get_status = 200
    scan()  # the services answer again; the store is still down: each is its own news
    assert sorted(
        (post["event"], post["item"], tuple(post["affected"])) for post in receiver.json_posts()[1:]
    ) == [("recovered", "admin-ui", ()), ("recovered", "flower", ())]


def gitlab_maintenance() -> MaintenanceWindow:
    """GitLab's maintenance window, open for the next hour."""
    now = timezone.now()
    return MaintenanceWindow.objects.create(
        service=Service.objects.get(slug="gitlab"),
        starts_at=now - timedelta(minutes=1),
        ends_at=now + timedelta(hours=1),
    )


def window_over(window: MaintenanceWindow) -> None:
    window.ends_at = timezone.now() - timedelta(seconds=1)
    window.save()


def test_an_item_in_maintenance_sends_nothing_nor_its_unreported_recovery(
    catalog, default_channels, service, receiver, smtp, scan
):
    check_for("gitlab", service.url("/"), failures_before_down=1)
    scan()
    window = gitlab_maintenance()
    service.get_status = 500
    scan()
    scan()
    assert HealthCheck.objects.get().status == "down"
    window_over(window)
    service.get_status = 200
    scan()  # back after the window, never reported down: nothing to say

    assert receiver.posts == [] and smtp.messages == []
    assert AlertEvent.objects.count() == 0


def test_an_item_still_down_when_its_window_ends_is_alerted_then(
    catalog, default_channels, service, receiver, scan
):
    check_for("gitlab", service.url("/"), failures_before_down=1)
    window = gitlab_maintenance()
    service.get_status = 500
    scan()
    assert receiver.posts == []
    window_over(window)
    scan()
    assert [post["event"] for post in receiver.json_posts()] == ["down"]


def test_a_slow_answer_is_alerted_as_degraded(catalog, default_channels, service, receiver, scan):
    check = check_for("gitlab", service.url("/"), degraded_after_ms=None)
    scan()
    HealthCheck.objects.filter(pk=check.pk).update(degraded_after_ms=0)
    scan()
    (alert,) = receiver.json_posts()
    assert (alert["event"], alert["status"]) == ("degraded", "degraded")


# --- Delivery that loses nothing and repeats nothing -------------------------------------


@pytest.fixture
def retries_run_at_once():
    """A task's retries run in-process at once, as a worker would run them later: an eager
    task's Retry is then the retry it asks for, not an error for the caller."""
    from aixops.celery import app

    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = True


def webhook_channel(url, **fields):
    return Channel.objects.create(name="hook", kind="webhook", target=url, **fields)


def test_a_receiver_that_fails_three_times_gets_the_alert_once(
    catalog, receiver, retries_run_at_once
):
    receiver.post_statuses = [500, 500, 500]
    delivery = Delivery.objects.create(
        alert=make_gitlab_down_alert(), channel=webhook_channel(receiver.url("/hook"))
    )
    tasks.deliver_alert.delay(delivery.pk)  # eager: its retries run at once

    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_error) == ("sent", 4, "")
    assert len(receiver.posts) == 4  # three refused, one taken
    assert tasks.deliver_alert.delay(delivery.pk).get() == {
        "delivery": delivery.pk,
        "state": "not ours to send",
    }
    assert len(receiver.posts) == 4


def test_a_delivery_that_gives_up_shows_as_failed(catalog, receiver, settings, retries_run_at_once):
    settings.ALERT_DELIVERY_ATTEMPTS = 2
    receiver.post_statuses = [502, 502, 502]
    delivery = Delivery.objects.create(
        alert=make_gitlab_down_alert(), channel=webhook_channel(receiver.url("/hook"))
    )
    tasks.deliver_alert.delay(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_error) == ("failed", 2, "HTTP 502")
    assert len(receiver.posts) == 2


def test_a_delivery_being_sent_by_another_worker_is_not_sent_again(catalog, receiver):
    delivery = Delivery.objects.create(
        alert=make_gitlab_down_alert(),
        channel=webhook_channel(receiver.url("/hook")),
        state="sending",
        claimed_at=timezone.now(),
    )
    assert delivery_attempt(delivery.pk) == ""
    assert receiver.posts == []


def test_a_webhook_into_a_denied_network_is_refused_before_connecting(
    catalog, resolver, monkeypatch
):
    connected = []
    monkeypatch.setattr(socket, "create_connection", lambda *args, **kw: connected.append(args))
    channel = webhook_channel("http://metadata.probe.test/hook")
    delivery = Delivery.objects.create(alert=make_gitlab_down_alert(), channel=channel)
    assert delivery_attempt(delivery.pk) == "pending"
    assert connected == []
    delivery.refresh_from_db()
    assert delivery.last_error == (
        "refused: metadata.probe.test (169.254.169.254) is in HEALTH_CHECK_DENY_NETWORKS "
        "(169.254.0.0/16)"
    )


def test_a_scan_with_the_broker_away_keeps_its_alerts_waiting_in_the_outbox(
    catalog,
    default_channels,
    service,
    receiver,
    refused_port,
    settings,
    committed,
    tasks_go_to_the_broker,
):
    from aixops.models import OutboxTask

    check_for("gitlab", service.url("/"), failures_before_down=1)
    service.get_status = 500
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{refused_port}/0"
    with committed():
        assert scan_run()["down"] == 1  # the scan finishes
    waiting = OutboxTask.objects.filter(task="portal.tasks.deliver_alert", sent_at__isnull=True)
    assert waiting.count() == 2  # one per channel: e-mail and webhook
    assert set(Delivery.objects.values_list("state", flat=True)) == {"pending"}
    assert receiver.posts == []


def test_apprise_delivers_to_a_json_receiver(catalog, receiver):
    channel = Channel.objects.create(
        name="chat", kind="apprise", target=f"json://127.0.0.1:{receiver.port}/chat"
    )
    delivery = Delivery.objects.create(alert=make_gitlab_down_alert(), channel=channel)
    assert delivery_attempt(delivery.pk) == "sent"
    ((path, _headers, _body),) = receiver.posts
    assert path == "/chat"
    assert "GitLab" in receiver.json_posts()[0]["title"]


# --- Channels and what they hear of -------------------------------------------------------


def test_a_channel_hears_of_its_subscriptions_and_events_only(catalog):
    alert = make_gitlab_down_alert()
    alert.affected = ["jenkins"]
    Channel.objects.create(name="all", kind="email", target="a@example.com")
    jenkins = Channel.objects.create(name="jenkins", kind="email", target="j@example.com")
    jenkins.services.add(Service.objects.get(slug="jenkins"))
    identity = Channel.objects.create(name="iam", kind="email", target="i@example.com")
    identity.categories.add(Service.objects.get(slug="keycloak").category)
    Channel.objects.create(name="quiet", kind="email", target="q@example.com", on_down=False)
    wants = {channel.name: channel.wants(alert) for channel in Channel.objects.for_delivery()}
    assert wants == {"all": True, "jenkins": True, "iam": False, "quiet": False}


@pytest.mark.parametrize(
    ("kind", "target", "message"),
    [
        ("email", "ops@example.com, not-an-address", "not-an-address is not an e-mail address."),
        ("webhook", "ftp://example.com/", "ftp:// URLs cannot be probed here"),
        ("webhook", "http://169.254.169.254/", "is in HEALTH_CHECK_DENY_NETWORKS"),
        ("apprise", "nonsense://", "apprise does not read this URL."),
        ("apprise", "json://169.254.169.254/x", "is in HEALTH_CHECK_DENY_NETWORKS"),
    ],
)
def test_a_channel_that_cannot_be_reached_is_refused_with_a_reason(db, kind, target, message):
    with translation.override("en"):
        with pytest.raises(ValidationError) as error:
            Channel(name="x", kind=kind, target=target).clean()
        assert message in " ".join(error.value.message_dict["target"])


def test_an_admin_sends_a_test_from_the_admin_and_reads_how_it_went(catalog, sam, receiver):
    working = webhook_channel(receiver.url("/hook"), secret=SECRET)
    broken = Channel.objects.create(name="broken", kind="webhook", target=receiver.url("/x"))
    receiver.post_statuses = [404, 200]  # in the order of their names
    client = client_for(sam)
    response = client.post(
        "/admin/portal/channel/",
        {"action": "send_test", "_selected_action": [broken.pk, working.pk]},
        headers={"accept-language": "en"},
        follow=True,
    )
    assert [str(message) for message in response.context["messages"]] == [
        "broken: the test did not arrive: HTTP 404",
        "hook: the test was sent.",
    ]
    assert [post["event"] for post in receiver.json_posts()] == ["test", "test"]
    (_path, headers, body) = receiver.posts[1]
    assert signed_correctly(headers, body) is True


def test_a_scan_in_which_nothing_changes_asks_nothing_of_the_alert_tables(
    catalog, default_channels, service, scan
):
    check_for("gitlab", service.url("/"))
    scan()
    with CaptureQueriesContext(connection) as queries:
        scan()
    touched = [q["sql"] for q in queries if "alert" in q["sql"] or "incident" in q["sql"]]
    assert touched == []
    assert AlertEvent.objects.count() == 0


@pytest.mark.parametrize("page", ["alertevent", "delivery"])
def test_the_alert_and_delivery_logs_cost_the_same_queries_for_one_row_or_twenty(
    catalog, alice, page
):
    channel = Channel.objects.create(name="ops", kind="email", target="ops@example.com")
    client = client_for(alice)

    def queries_for_the_list() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/admin/portal/{page}/").status_code == 200
        return len(queries)

    Delivery.objects.create(alert=make_gitlab_down_alert(), channel=channel)
    one = queries_for_the_list()
    for _ in range(19):
        Delivery.objects.create(alert=make_gitlab_down_alert(), channel=channel)
    assert queries_for_the_list() == one
