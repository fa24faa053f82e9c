"""Log lines are JSON and say which request, user and Celery task they belong to."""

import io
import json
import logging

import pytest
from celery import shared_task
from django.conf import settings

from aixops.observability import LogContextFilter


@pytest.fixture
def json_log():
    """The production log handler (JSON formatter and context filter) on a buffer."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    formatter_config = dict(settings.LOGGING["formatters"]["json"])
    formatter_class = formatter_config.pop("()")
    module, name = formatter_class.rsplit(".", 1)
    handler.setFormatter(getattr(__import__(module, fromlist=[name]), name)(**formatter_config))
    handler.addFilter(LogContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)


def test_request_id_is_echoed_from_the_proxy(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="b1946ac92492d2347c6235b4d2611184")
    assert response["X-Request-ID"] == "b1946ac92492d2347c6235b4d2611184"


@pytest.mark.parametrize("incoming", [None, "bad id with spaces", "x" * 200])
def test_request_id_is_made_when_missing_or_unusable(client, incoming):
    headers = {} if incoming is None else {"HTTP_X_REQUEST_ID": incoming}
    request_id = client.get("/healthz", **headers)["X-Request-ID"]
    assert len(request_id) == 32 and request_id != incoming


def test_request_log_lines_carry_request_id_and_user(catalog, bob_client, json_log):
    response = bob_client.get("/categories/nope/", HTTP_X_REQUEST_ID="req-42")
    assert response.status_code == 404
    lines = [line for line in json_log() if line["logger"] == "django.request"]
    assert lines, "Django logs a 404 as a warning"
    assert lines[0]["request_id"] == "req-42"
    assert lines[0]["user"] == "bob"
    assert lines[0]["level"] == "WARNING"
    assert "time" in lines[0]


@shared_task(name="tests.log_something")
def log_something():
    logging.getLogger("portal.tasks").info("inside a task")


def test_task_log_lines_carry_the_task_id(json_log):
    result = log_something.apply(task_id="task-123")
    assert result.successful()
    line = next(line for line in json_log() if line["message"] == "inside a task")
    assert line["task_id"] == "task-123"
    assert line["request_id"] == ""


def test_audit_events_are_logged(db, json_log, alice, carol):
    carol.approve(by=alice, reason="on the team", ip="10.0.0.7")
    line = next(line for line in json_log() if line["logger"] == "aixops.audit")
    assert line["message"] == "audit approve"
    assert line["audit_action"] == "approve"
    assert line["audit_actor"] == "alice"
    assert line["audit_target_id"] == carol.pk
    assert line["audit_reason"] == "on the team"
    assert line["audit_client_ip"] == "10.0.0.7"
