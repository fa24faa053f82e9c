"""An API call with a personal API token next to the same call with a session, in-process;
and the queries the token check costs.

    .venv/bin/python bench/api_tokens.py [--calls 2000] [--url /api/categories/]

Runs with Django's test client on a fresh SQLite database (or DATABASE_URL) with the seed
catalog, the cache as configured (CACHE_URL; local memory by default, where sessions are
read from too). Calls alternate between a client signed in with a session and one sending
`Authorization: Bearer <token>` of the same member, after a warm-up; prints each one's
median and mean time per call, their ratio, and the queries of one call of each.
Goal: the token call costs at most 1.2x the session call, and the token check is one query.
"""

import argparse
import statistics
import time

from _django import setup


def timed(client, url: str) -> float:
    start = time.perf_counter()
    response = client.get(url)
    elapsed = time.perf_counter() - start
    assert response.status_code == 200, response.status_code
    return elapsed


def queries_of(client, url: str) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return [query["sql"][:100] for query in queries.captured_queries]


def token_check_queries(secret: str) -> int:
    """Queries of the bearer sign-in itself (accounts.tokens), for a token used just now."""
    from django.db import connection
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext

    from accounts.tokens import BearerTokenMiddleware

    request = RequestFactory().get(
        "/api/categories/", headers={"authorization": f"Bearer {secret}"}
    )
    with CaptureQueriesContext(connection) as queries:
        assert BearerTokenMiddleware.sign_in(request, secret) is None
    return len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--url", default="/api/categories/")
    args = parser.parse_args()
    setup()
    from django.core.management import call_command
    from django.test import Client

    from accounts.models import ApiToken, User

    call_command("loaddata", "catalog", verbosity=0)
    member = User.objects.create_user(username="bench-member", membership="approved")
    _, secret = ApiToken.objects.issue(owner=member, name="bench", by=None)
    session = Client()
    session.force_login(member)
    token = Client(headers={"authorization": f"Bearer {secret}"})

    for _ in range(50):  # warm-up: imports, caches, the token's first use written down
        timed(session, args.url)
        timed(token, args.url)
    by_session, by_token = [], []
    for _ in range(args.calls):
        by_session.append(timed(session, args.url))
        by_token.append(timed(token, args.url))

    def line(name, times):
        median, mean = statistics.median(times) * 1e3, statistics.fmean(times) * 1e3
        return f"{name:8} median {median:.3f} ms  mean {mean:.3f} ms", median

    session_line, session_median = line("session", by_session)
    token_line, token_median = line("token", by_token)
    print(f"GET {args.url}, {args.calls} calls each, in-process")
    print(session_line)
    print(token_line)
    print(f"token / session (median): {token_median / session_median:.2f}x (goal <= 1.2x)")
    print("queries with a session:", *queries_of(session, args.url), sep="\n  ")
    print("queries with a token:", *queries_of(token, args.url), sep="\n  ")
    print(f"the token check alone: {token_check_queries(secret)} query(ies)")


if __name__ == "__main__":
    main()
