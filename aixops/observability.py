"""Request ids and log context: every log line says which request, user or task it is for."""

import logging
import re
import uuid
from contextvars import ContextVar

from celery import current_task
from django.core.signals import request_finished

REQUEST_ID_HEADER = "HTTP_X_REQUEST_ID"
# nginx's $request_id is 32 hex characters; accept any sane id a proxy passes on.
_ACCEPTABLE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")

current_request = ContextVar("current_request", default=None)

audit_logger = logging.getLogger("aixops.audit")


def audit_line(action: str, *, actor: str, **fields) -> None:
    """One line of the audit log stream (the `aixops.audit` logger), for the log shipper
    and its alerts: `action`, who did it, and each of `fields` as `audit_<name>`."""
    audit_logger.info(
        "audit %s",
        action,
        extra={
            "audit_action": action,
            "audit_actor": actor,
            **{f"audit_{name}": value for name, value in fields.items()},
        },
    )


class RequestIdMiddleware:
    """Takes the proxy's X-Request-ID (or makes one), exposes it to logs and the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.META.get(REQUEST_ID_HEADER, "")
        request.id = incoming if _ACCEPTABLE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        # Not reset on the way out: Django logs 4xx/5xx responses after the middleware
        # chain has returned. request_finished clears it once the response is closed.
        current_request.set(request)
        response = self.get_response(request)
        response["X-Request-ID"] = request.id
        return response


def _forget_request(**kwargs) -> None:
    current_request.set(None)


request_finished.connect(_forget_request, dispatch_uid="aixops-forget-request")


class LogContextFilter(logging.Filter):
    """Adds request_id, user and task_id to every record (empty where they do not apply)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = current_request.get()
        record.request_id = getattr(request, "id", "") if request is not None else ""
        record.user = _username(request)
        task = current_task
        record.task_id = getattr(getattr(task, "request", None), "id", None) or ""
        return True


def _username(request) -> str:
    # Only a user the request has already loaded: logging must never cost a query.
    user = getattr(request, "_cached_user", None)
    if user is None or not user.is_authenticated:
        return ""
    return user.get_username()
