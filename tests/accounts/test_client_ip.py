"""Whose address the audit trail records: behind nginx, the client's, never a forged one."""

import ipaddress
import logging

import pytest
from django.test import RequestFactory

from aixops.networks import client_ip
from audit.models import AuditEvent
from tests.accounts.test_admin_approval import QUEUE
from tests.factories import client_for

NGINX = "127.0.0.1"


@pytest.fixture
def behind_nginx(settings):
    settings.TRUSTED_PROXY_NETWORKS = [ipaddress.ip_network("127.0.0.1/32")]


def request_from(peer: str, forwarded: str | None = None):
    meta = {"REMOTE_ADDR": peer}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **meta)


@pytest.mark.parametrize(
    ("forwarded", "client"),
    [
        ("203.0.113.9", "203.0.113.9"),
        # The client sent its own X-Forwarded-For; nginx appended what it saw.
        ("6.6.6.6, 203.0.113.9", "203.0.113.9"),
        ("2001:db8::7", "2001:db8::7"),
    ],
)
def test_behind_nginx_the_client_is_what_nginx_saw(behind_nginx, forwarded, client):
    assert client_ip(request_from(NGINX, forwarded)) == client


def test_a_peer_that_is_not_the_proxy_is_believed_about_nothing(behind_nginx):
    assert client_ip(request_from("198.51.100.4", "6.6.6.6")) == "198.51.100.4"


def test_without_a_proxy_the_header_is_ignored(settings):
    settings.TRUSTED_PROXY_NETWORKS = []
    assert client_ip(request_from(NGINX, "6.6.6.6")) == NGINX


def test_an_unusable_header_falls_back_to_the_peer_and_is_logged(behind_nginx, caplog):
    with caplog.at_level(logging.WARNING, logger="accounts.services"):
        assert client_ip(request_from(NGINX, "6.6.6.6, not-an-address")) == NGINX
    assert "unusable X-Forwarded-For" in caplog.text


def test_no_request_no_address():
    assert client_ip(None) is None


def test_an_approval_behind_nginx_records_the_admins_own_address(behind_nginx, carol, sam):
    response = client_for(sam).post(
        QUEUE,
        {"action": "approve", "_selected_action": [carol.pk]},
        REMOTE_ADDR=NGINX,
        HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9",
    )
    assert response.status_code == 302
    assert AuditEvent.objects.get(action="approve", target=carol).client_ip == "203.0.113.9"
