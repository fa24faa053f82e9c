"""Personas and shared fixtures: alice runs the platform, bob is a member."""

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client


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
