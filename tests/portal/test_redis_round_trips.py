"""What a warm category page asks of Redis, as a web process in production does (CACHE_URL
a Redis cache, its own copies of pages: portal/page_copies.py): the session, then the page
state with the reader's pinned slugs in one round trip. Recording the page as asked for
(portal.asked) costs none while this process recorded it lately, and the page's part comes
from this process's copy."""

import environ
import pytest
import redis

from aixops.settings import cache_settings
from portal.models import Pin
from tests.subprocesses import TEST_REDIS_URL

DEVOPS = "/categories/devops/"


@pytest.fixture
def redis_cache(settings):
    """The cache of a web process in production, on the tests' own Redis database."""
    settings.CACHES = cache_settings(environ.Env.cache_url_config(TEST_REDIS_URL), "test")
    settings.PAGE_COPIES = 8
    redis.Redis.from_url(TEST_REDIS_URL).flushdb()
    yield
    redis.Redis.from_url(TEST_REDIS_URL).flushdb()


@pytest.fixture
def redis_commands(monkeypatch):
    """The commands sent to Redis from now on."""
    sent = []
    execute = redis.Redis.execute_command

    def counted(client, *args, **options):
        sent.append(args[0])
        return execute(client, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", counted)
    return sent


def test_a_warm_category_page_makes_two_round_trips_to_redis(
    catalog, bob, bob_client, redis_cache, redis_commands, django_assert_num_queries
):
    Pin.objects.pin(user=bob, slug="jenkins")
    bob_client.get(DEVOPS)  # rendered, cached, and recorded as asked for
    redis_commands.clear()
    # The signed-in user, as without Redis.
    with django_assert_num_queries(1):
        page = bob_client.get(DEVOPS).text
    # The session; the page state with bob's pinned slugs.
    assert redis_commands == ["GET", "MGET"]
    assert '<div id="pinned-services" hidden data-pinned="jenkins"' in page
