"""Personal API tokens: a member makes, names, lists and revokes them on a page of their own
(the secret shown once, stored hashed); a script sends one as a bearer token to /api/ and
acts as its member, until it is revoked or expires or the member loses access."""

import hashlib
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone, translation

from accounts.models import ApiToken, ApiTokenError
from accounts.tokens import LAST_USED_EVERY
from audit.models import AuditEvent
from tests.factories import client_for

SECRET = re.compile(r"aix_[A-Za-z0-9_-]{43}")


@pytest.fixture(autouse=True)
def in_english():
    """Messages are read in English here (the portal's default language is Korean)."""
    with translation.override("en"):
        yield


def issue(owner, name="ci", **kwargs):
    return ApiToken.objects.issue(owner=owner, name=name, by=owner, **kwargs)


def bearer(secret: str, **extra) -> Client:
    return Client(headers={"authorization": f"Bearer {secret}", **extra})


# --- Making and revoking ------------------------------------------------------------------


def test_only_the_hash_and_a_short_prefix_are_stored(bob):
    token, secret = issue(bob)
    assert SECRET.fullmatch(secret)
    assert token.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert token.prefix == secret[:12]
    stored = ApiToken.objects.filter(pk=token.pk).values().get()
    assert secret not in [str(value) for value in stored.values()]


def test_issuing_is_audited_without_the_secret(bob):
    token, secret = issue(bob, "deploy check")
    event = AuditEvent.objects.get(action="token.create")
    assert (event.actor, event.target, event.reason) == (bob, bob, token.describe())
    assert token.prefix in event.reason
    assert secret not in event.reason


def test_a_second_token_of_the_same_name_is_refused(bob):
    issue(bob, "ci")
    with pytest.raises(ApiTokenError, match="already have a token named ci"):
        issue(bob, "ci")
    assert ApiToken.objects.count() == 1
    assert AuditEvent.objects.filter(action="token.create").count() == 1


@pytest.mark.parametrize(
    ("name", "days", "message"),
    [("", None, "name of 1 to 100"), ("x" * 101, None, "name of 1 to 100"), ("ci", 0, "1 to 3650")],
)
def test_bad_input_is_refused_and_changes_nothing(bob, name, days, message):
    with pytest.raises(ApiTokenError, match=message):
        issue(bob, name, expires_in_days=days)
    assert not ApiToken.objects.exists()


def test_revoking_twice_is_harmless_and_audited_once(bob):
    token, _ = issue(bob)
    assert token.revoke(by=bob) is True
    assert token.revoke(by=bob) is False
    assert token.revoked_at is not None
    assert AuditEvent.objects.filter(action="token.revoke").count() == 1


# --- Signing in with a token --------------------------------------------------------------


def test_a_token_acts_as_its_member(catalog, bob):
    _, secret = issue(bob)
    response = bearer(secret).get("/api/categories/")
    assert response.status_code == 200
    assert response.json()["categories"][0]["slug"] == "devops"


def test_a_staff_token_sees_hidden_services_as_its_member_would(catalog, sam):
    from portal.models import Service

    Service.objects.filter(slug="gitlab").update(hidden=True)
    _, secret = issue(sam)
    services = bearer(secret).get("/api/categories/devops/").json()["services"]
    assert "gitlab" in [service["slug"] for service in services]


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda token: token.revoke(by=None), id="revoked"),
        pytest.param(
            lambda token: ApiToken.objects.filter(pk=token.pk).update(
                expires_at=timezone.now() - timedelta(seconds=1)
            ),
            id="expired",
        ),
        pytest.param(
            lambda token: (
                type(token.owner).objects.filter(pk=token.owner_id).update(is_active=False)
            ),
            id="owner deactivated",
        ),
    ],
)
def test_a_token_that_no_longer_works_is_a_401(catalog, bob, spoil):
    token, secret = issue(bob)
    spoil(token)
    response = bearer(secret).get("/api/categories/")
    assert response.status_code == 401
    assert response.json() == {"error": "invalid token"}
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'


@pytest.mark.parametrize("transition", ["suspend", "reject"])
def test_a_token_stops_working_the_moment_its_member_loses_access(
    catalog, bob, carol, alice, transition
):
    member = bob if transition == "suspend" else carol
    if member is carol:
        _, secret = issue(carol)
        carol.reject(by=alice, reason="not on the team")
    else:
        _, secret = issue(bob)
        assert bearer(secret).get("/api/health/").status_code == 200
        bob.suspend(by=alice)
    response = bearer(secret).get("/api/health/")
    assert response.status_code == 403
    assert response.json()["error"] == "membership not approved"


def test_a_token_is_not_a_way_into_pages(catalog, bob):
    _, secret = issue(bob)
    response = bearer(secret).get("/categories/devops/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_wrong_token_is_a_401_even_with_a_session(catalog, bob):
    client = client_for(bob)
    client.defaults["HTTP_AUTHORIZATION"] = "Bearer aix_" + "x" * 43
    assert client.get("/api/categories/").status_code == 401


def test_the_token_check_is_one_query(catalog, bob, django_assert_num_queries):
    token, secret = issue(bob)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    client = bearer(secret)
    # 1. the token by its digest, joined to its owner; 2. the catalog's group limits (none
    # here, so no query for the member's groups); 3. the categories with their counts.
    with django_assert_num_queries(3):
        assert client.get("/api/categories/").status_code == 200


def test_a_refused_token_costs_one_query_and_a_malformed_one_none(
    catalog, django_assert_num_queries
):
    with django_assert_num_queries(1):
        assert bearer("aix_" + "x" * 43).get("/api/categories/").status_code == 401
    with django_assert_num_queries(0):
        assert bearer("not-a-token").get("/api/categories/").status_code == 401


def test_last_used_is_written_at_most_once_a_minute(catalog, bob, django_assert_num_queries):
    token, secret = issue(bob)
    client = bearer(secret)
    # the token, its last use (first call), the catalog's group limits, the categories
    with django_assert_num_queries(4):
        client.get("/api/categories/")
    token.refresh_from_db()
    first_use = token.last_used_at
    assert first_use is not None
    with django_assert_num_queries(3):
        client.get("/api/categories/")
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first_use - LAST_USED_EVERY)
    client.get("/api/categories/")
    token.refresh_from_db()
    assert token.last_used_at > first_use


# --- Holding back guessers ----------------------------------------------------------------


def test_an_address_sending_wrong_tokens_is_held_back(catalog, bob, settings):
    settings.API_TOKEN_FAILURE_LIMIT = 3
    settings.API_TOKEN_FAILURE_WINDOW = 60
    _, secret = issue(bob)
    guesser = Client(REMOTE_ADDR="192.0.2.7")
    for _ in range(3):
        guesser.defaults["HTTP_AUTHORIZATION"] = "Bearer aix_" + "g" * 43
        assert guesser.get("/api/categories/").status_code == 401
    # Held back, even with a right token: guessing learns nothing more this window.
    guesser.defaults["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    response = guesser.get("/api/categories/")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response.json() == {"error": "too many invalid tokens, try again later"}
    # Another address is not held back.
    other = Client(REMOTE_ADDR="192.0.2.8", headers={"authorization": f"Bearer {secret}"})
    assert other.get("/api/categories/").status_code == 200


def test_right_tokens_do_not_count_against_the_limit(catalog, bob, settings):
    settings.API_TOKEN_FAILURE_LIMIT = 2
    _, secret = issue(bob)
    client = bearer(secret)
    assert all(client.get("/api/health/").status_code == 200 for _ in range(5))


# --- The member's page --------------------------------------------------------------------


def test_a_member_makes_a_token_and_sees_it_once(catalog, bob):
    client = client_for(bob)
    response = client.post("/accounts/tokens/new/", {"name": "ci", "expires_in_days": "30"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = re.search(r'id="new-api-token-secret">([^<]+)<', response.content.decode())[1]
    token = ApiToken.objects.get()
    assert token.digest == ApiToken.digest_of(secret)
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    listing = client.get("/accounts/tokens/").content.decode()
    assert secret not in listing
    assert token.prefix in listing
    assert bearer(secret).get("/api/categories/").status_code == 200


def test_the_page_lists_a_members_own_tokens_only(catalog, bob, sam):
    issue(bob, "bobs-token")
    issue(sam, "sams-token")
    body = client_for(bob).get("/accounts/tokens/").content.decode()
    assert "bobs-token" in body
    assert "sams-token" not in body


def test_the_page_reads_in_a_fixed_number_of_queries(catalog, bob, django_assert_num_queries):
    for n in range(5):
        issue(bob, f"token-{n}")
    client = client_for(bob)
    # 1. the signed-in user; 2. the tokens; 3. the top bar's categories.
    with django_assert_num_queries(3):
        assert client.get("/accounts/tokens/").status_code == 200


def test_a_bad_name_says_why_and_makes_nothing(catalog, bob):
    issue(bob, "ci")
    response = client_for(bob).post(
        "/accounts/tokens/new/", {"name": "ci"}, headers={"accept-language": "en"}
    )
    assert response.status_code == 400
    assert "already have a token named ci" in response.content.decode()
    assert ApiToken.objects.count() == 1


def test_a_member_revokes_their_token(catalog, bob):
    token, secret = issue(bob)
    client = client_for(bob)
    response = client.post(f"/accounts/tokens/{token.pk}/revoke/")
    assert response.status_code == 302
    assert client.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert bearer(secret).get("/api/categories/").status_code == 401
    assert AuditEvent.objects.filter(action="token.revoke").count() == 1


def test_nobody_revokes_anothers_token(catalog, bob, sam):
    token, _ = issue(sam)
    assert client_for(bob).post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_changes_are_post_only_and_need_the_csrf_token(catalog, bob):
    token, _ = issue(bob)
    client = client_for(bob)
    assert client.get(f"/accounts/tokens/{token.pk}/revoke/").status_code == 405
    assert client.get("/accounts/tokens/new/").status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(bob)
    assert strict.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 403
    assert strict.post("/accounts/tokens/new/", {"name": "x"}).status_code == 403
    token.refresh_from_db()
    assert token.revoked_at is None
    assert ApiToken.objects.count() == 1


def test_the_page_speaks_korean(catalog, bob):
    client = client_for(bob)
    body = client.get("/accounts/tokens/", headers={"accept-language": "ko"}).content.decode()
    assert "API 토큰" in body


# --- The command --------------------------------------------------------------------------


def test_the_command_prints_the_token_alone_on_its_last_line(catalog, bob, capsys):
    call_command("api_tokens", "create", "bob", "--name", "deploy", "--expires-days", "7")
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    assert SECRET.fullmatch(secret)
    assert bearer(secret).get("/api/health/").status_code == 200
    event = AuditEvent.objects.get(action="token.create")
    assert event.actor_name == "manage.py api_tokens"


def test_the_command_lists_and_revokes_by_prefix_or_id(bob, sam, capsys):
    bobs, _ = issue(bob, "bobs")
    sams, _ = issue(sam, "sams")
    call_command("api_tokens", "list", "bob")
    listed = capsys.readouterr().out
    assert bobs.prefix in listed and sams.prefix not in listed
    call_command("api_tokens", "revoke", bobs.prefix)
    call_command("api_tokens", "revoke", str(sams.pk))
    call_command("api_tokens", "revoke", str(sams.pk))
    assert "already revoked" in capsys.readouterr().out
    assert ApiToken.objects.filter(revoked_at__isnull=True).count() == 0


def test_the_command_refuses_unknown_names_and_tokens(bob):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No such user: nobody"):
        call_command("api_tokens", "create", "nobody", "--name", "x")
    with pytest.raises(CommandError, match="No token"):
        call_command("api_tokens", "revoke", "aix_nothing")
    assert not ApiToken.objects.exists()


def test_a_token_call_leaves_a_session_it_carries_alone(catalog, bob):
    """A browser on the docs page sends its session cookie too: a session due for its
    Keycloak re-check is not re-checked (nor ended) by a call the token signs in."""
    from accounts.oidc.middleware import EXPIRY_KEY

    _, secret = issue(bob)
    client = client_for(bob)
    session = client.session
    session[EXPIRY_KEY] = 0  # due long ago
    session.save()
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    assert client.get("/api/categories/").status_code == 200
    assert client.session.get(EXPIRY_KEY) == 0
