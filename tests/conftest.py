"""Personas and shared fixtures: alice runs the platform, bob is a member."""

import os
import uuid

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client

from tests.servers import HttpServer, TcpServer, free_port

# The tests' own Redis database: a developer's worker (database 0) never sees it.
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts cold: cached pages from another test's database must not leak in."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def catalog(db):
    """The shipped seed catalog, loaded the way operators load it."""
    call_command("loaddata", "catalog", verbosity=0)


@pytest.fixture
def alice(django_user_model):
    """A platform admin (staff)."""
    return django_user_model.objects.create_user(
        username="alice", password="alice-password", is_staff=True, is_superuser=True
    )


@pytest.fixture
def bob(django_user_model):
    """A platform member."""
    return django_user_model.objects.create_user(username="bob", password="bob-password")


@pytest.fixture
def bob_client(bob):
    client = Client()
    client.force_login(bob)
    return client


@pytest.fixture
def alice_client(alice):
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture(autouse=True)
def own_scan_lock(settings):
    """Every test its own scan lock, in the tests' Redis database, so that neither a
    developer's worker nor another test run (another worktree) holds it."""
    settings.HEALTH_LOCK_URL = TEST_REDIS_URL
    settings.HEALTH_LOCK_KEY = f"aixops-test:{uuid.uuid4().hex}:scan-lock"


@pytest.fixture
def http_server():
    """A real HTTP server on a free 127.0.0.1 port: /ok, /down, /error, /slow, /hang."""
    with HttpServer() as server:
        yield server


@pytest.fixture
def tcp_server():
    """A real TCP server on a free 127.0.0.1 port that accepts and closes."""
    with TcpServer() as server:
        yield server


@pytest.fixture
def refused_port():
    """A 127.0.0.1 port with nothing listening: connections are refused."""
    return free_port()
