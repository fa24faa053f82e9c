"""Personas and shared fixtures: alice runs the platform, bob is a member, carol waits for
approval, dave was rejected, erin is suspended, sam is an approved staff member."""

import asyncio
import ipaddress
import socket
import uuid
from types import SimpleNamespace

import psycopg
import pytest
from django.core.cache import cache, caches
from django.test import Client
from django.utils import timezone
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from devtools.processes import free_port
from portal.models import CatalogRevision
from portal.page_copies import page_copies
from portal.state_cache import page_state_moved
from tests.catalog_rows import load_catalog_and_roll_back, write_rows
from tests.live_worker import worker, worker_env  # noqa: F401  (fixtures)
from tests.servers import HttpServer, TcpServer
from tests.subprocesses import TEST_REDIS_URL


@pytest.fixture(scope="session", autouse=True)
def live_server_threads_close_their_connections():
    """The live server answers each request on a new thread; with persistent connections
    (CONN_MAX_AGE) those threads would leave PostgreSQL sessions open and block dropping
    the test database at the end."""
    from django.conf import settings

    settings.DATABASES["default"]["CONN_MAX_AGE"] = 0


@pytest.fixture(scope="session", autouse=True)
def celery_runs_tasks_in_process():
    """Tasks run eagerly in tests (the live-worker suite starts a real worker)."""
    from aixops.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True


@pytest.fixture
def tasks_go_to_the_broker():
    """For a test about queueing itself: tasks are sent to the broker, not run in-process."""
    from aixops.celery import app

    app.conf.task_always_eager = False
    yield
    app.conf.task_always_eager = True


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Personas have passwords; the production hasher would spend most of the suite on them."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts cold: cached pages from another test's database must not leak in,
    nor template fragments a test's settings shaped, nor this process's own copies of
    pages (portal.pages)."""
    own_caches = (cache, caches["fragments"], caches["local"], page_copies)
    for each in own_caches:
        each.clear()
    yield
    for each in own_caches:
        each.clear()


@pytest.fixture(scope="session")
def catalog_rows(django_db_setup, django_db_blocker):
    """The rows `loaddata catalog` writes (tests/catalog_rows.py), by model: loaded once with
    the real command, in a transaction rolled back at once, so the test database stays as
    pytest-django made it."""
    with django_db_blocker.unblock():
        return load_catalog_and_roll_back()


@pytest.fixture
def catalog(db, catalog_rows):
    """The shipped seed catalog: the rows `loaddata catalog` writes (the catalog, its
    many-to-many rows, the catalog revision), written back with their ids in a statement
    per table. The revision is stamped now, as the command stamps it when it loads, and the
    page state forgotten, as every catalog write does (portal.signals)."""
    write_rows(catalog_rows)
    CatalogRevision.objects.update(changed_at=timezone.now())
    page_state_moved()


@pytest.fixture
def alice(django_user_model):
    """A platform admin (staff)."""
    return django_user_model.objects.create_user(
        username="alice", password="alice-password", is_staff=True, is_superuser=True
    )


@pytest.fixture
def bob(django_user_model):
    """A platform member, approved."""
    return django_user_model.objects.create_user(
        username="bob", password="bob-password", membership="approved"
    )


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


def _member(django_user_model, username, membership, **extra):
    return django_user_model.objects.create_user(
        username=username,
        password=f"{username}-password",
        email=f"{username}@example.com",
        membership=membership,
        **extra,
    )


@pytest.fixture
def carol(django_user_model):
    """Signed up, waiting for approval."""
    return _member(django_user_model, "carol", "pending")


@pytest.fixture
def dave(django_user_model):
    """Rejected."""
    return _member(django_user_model, "dave", "rejected", membership_reason="not on the team")


@pytest.fixture
def erin(django_user_model):
    """Approved once, now suspended."""
    return _member(django_user_model, "erin", "suspended", membership_reason="left the project")


@pytest.fixture
def sam(django_user_model):
    """An approved staff member who is not a superuser: rights through the admin group."""
    from accounts.permissions import admin_group

    user = _member(django_user_model, "sam", "approved", is_staff=True)
    user.groups.add(admin_group())
    return user


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


@pytest.fixture
def resolver(monkeypatch):
    """getaddrinfo answering `*.probe.test` names from a table, so that no test asks DNS.

    `names` maps a name to its answers, each a tuple of addresses, given in turn (the last
    one repeats); `asked` lists the names looked up. Any other host must be numeric.
    """
    real_getaddrinfo = socket.getaddrinfo
    names = {
        "app.probe.test": [("127.0.0.1",)],
        "metadata.probe.test": [("169.254.169.254",)],
        # One usable address and one denied: the IPv6 metadata service of AWS.
        "dual.probe.test": [("127.0.0.1", "fd00:ec2::254")],
        # DNS rebinding: a harmless first answer, then the metadata service.
        "rebind.probe.test": [("127.0.0.1",), ("169.254.169.254",)],
    }
    asked = []

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        host = host.decode() if isinstance(host, bytes) else host
        asked.append(host)
        answers = names.get(host)
        addresses = (answers.pop(0) if len(answers) > 1 else answers[0]) if answers else (host,)
        flags |= socket.AI_NUMERICHOST
        return [
            found
            for address in addresses
            for found in real_getaddrinfo(address, port, family, type, proto, flags)
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return SimpleNamespace(names=names, asked=asked)


@pytest.fixture
def connections(monkeypatch):
    """Every connection opened, as (address, port): asyncio's (aiohttp, redis-py, the TCP
    probe) and libpq's. One to anything but loopback fails before it is made."""
    opened = []

    def record(host, port):
        opened.append((host, port))
        if not ipaddress.ip_address(host).is_loopback:
            raise AssertionError(f"a test tried to connect to {host}")

    # Every asyncio connection goes through sock_connect: create_connection's own (redis-py,
    # the TCP probe) and aiohttp's (happy eyeballs connects a socket, then wraps it). The
    # event loop of every test (Linux) is a selector loop, which has its own.
    loop_class = asyncio.selector_events.BaseSelectorEventLoop
    real_sock_connect = loop_class.sock_connect

    async def sock_connect(self, sock, address):
        record(*address[:2])
        return await real_sock_connect(self, sock, address)

    real_connect = psycopg.AsyncConnection.connect.__func__

    async def connect(cls, conninfo="", **options):
        where = {key: options[key] for key in ("host", "hostaddr", "port") if key in options}
        params = conninfo_to_dict(make_conninfo(conninfo, **where))
        record(params.get("hostaddr") or params.get("host"), params.get("port"))
        return await real_connect(cls, conninfo, **options)

    monkeypatch.setattr(loop_class, "sock_connect", sock_connect)
    monkeypatch.setattr(psycopg.AsyncConnection, "connect", classmethod(connect))
    return opened


@pytest.fixture(autouse=True)
def workspace_dirs(tmp_path, settings):
    """Every workspace the tests make lives under the test's own temporary directory."""
    settings.WORKSPACE_ROOT = tmp_path / "workspaces"
    settings.WORKSPACE_ARCHIVE = tmp_path / "workspace-archive"
    return settings.WORKSPACE_ROOT, settings.WORKSPACE_ARCHIVE


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run what waits for the commit (queued tasks, e-mail) as if the test's transaction
    had committed: `with committed(): ...`. Tasks run eagerly (tests/conftest.py)."""

    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run
