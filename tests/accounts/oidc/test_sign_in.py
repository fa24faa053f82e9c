"""Signing in through the Keycloak-shaped provider, over real HTTP: the code flow with PKCE,
who lands where, and what is copied from the claims."""

from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from django.contrib.auth.models import Group
from django.core import mail
from django.test import Client

from accounts.models import User
from audit.models import AuditEvent
from tests.accounts.oidc.flow import provider_login, sign_in


def test_anonymous_visitor_is_sent_to_keycloak_and_back(sso, catalog):
    client = Client()
    response = client.get("/categories/devops/")
    assert response["Location"] == "/accounts/login/?next=/categories/devops/"
    response = client.get(response["Location"])
    assert response["Location"] == "/oidc/authenticate/?next=%2Fcategories%2Fdevops%2F"
    response = client.get(response["Location"])
    auth_url = urlsplit(response["Location"])
    assert f"{auth_url.scheme}://{auth_url.netloc}{auth_url.path}" == sso.endpoint("auth")
    query = parse_qs(auth_url.query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]
    assert query["scope"] == ["openid email profile"]
    assert query["nonce"] and query["state"]


def test_new_member_becomes_pending_and_sees_the_waiting_page(sso, catalog, alice):
    alice.email = "alice@example.com"
    alice.save()
    client = Client()
    response, _ = sign_in(client, "member", next_url="/categories/devops/")
    assert response.status_code == 302 and response["Location"] == "/categories/devops/"
    page = client.get("/categories/devops/")
    assert page.status_code == 403
    assert 'id="membership-pending"' in page.content.decode()

    member = User.objects.get(oidc_subject="6f1c2a3e-0d4b-4c1a-9e57-2b1f4a8d0002")
    assert (member.username, member.email, member.first_name, member.last_name) == (
        "member",
        "member@aixops.test",
        "Max",
        "Member",
    )
    assert member.membership == "pending" and not member.is_staff
    assert list(member.groups.values_list("name", flat=True)) == ["/platform/devops"]
    assert not member.has_usable_password()
    assert AuditEvent.objects.get(target=member).action == "sign_up"
    # The admins hear that someone is waiting.
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert "member" in mail.outbox[0].subject


def test_admin_role_lands_as_approved_staff(sso, catalog):
    client = Client()
    response, _ = sign_in(client, "admin")
    assert response.status_code == 302
    admin = User.objects.get(oidc_subject="6f1c2a3e-0d4b-4c1a-9e57-2b1f4a8d0001")
    assert admin.is_staff and not admin.is_superuser
    assert admin.membership == "approved"
    event = AuditEvent.objects.get(target=admin, action="approve")
    assert event.automatic and event.reason == "auto-approval: role aixops-admin"
    assert set(admin.groups.values_list("name", flat=True)) == {
        "/platform/admins",
        "Platform admins",
    }
    assert client.get("/admin/accounts/pendingmember/").status_code == 200
    assert client.get("/").status_code == 200


def test_approved_member_sees_the_overview(sso, catalog, alice):
    client = Client()
    sign_in(client, "member")
    User.objects.get(username="member").approve(by=alice)
    page = client.get("/categories/devops/")
    assert page.status_code == 200
    assert "DevOps Guide" in page.content.decode()


def test_superuser_role_makes_a_superuser(sso, settings, person):
    settings.OIDC_SUPERUSER_ROLES = ["aixops-root"]
    name = person(realmRoles=["aixops-root"])
    sign_in(Client(), name)
    user = User.objects.get(username=name)
    assert user.is_superuser and user.is_staff


def test_profile_roles_and_groups_are_read_again_at_every_sign_in(sso, person):
    name = person(realmRoles=["aixops-admin"], groups=["/platform/admins"])
    sign_in(Client(), name)
    user = User.objects.get(username=name)
    assert user.is_staff

    sso.upsert_user(
        {
            "username": name,
            "email": "renamed@aixops.test",
            "firstName": "Renée",
            "realmRoles": ["aixops-member"],
            "groups": ["/platform/devops"],
        }
    )
    user.groups.add(Group.objects.create(name="given in the portal"))
    sign_in(Client(), name)
    user.refresh_from_db()
    assert (user.email, user.first_name, user.is_staff) == ("renamed@aixops.test", "Renée", False)
    assert set(user.groups.values_list("name", flat=True)) == {
        "/platform/devops",
        "given in the portal",  # not Keycloak's: left alone
    }
    assert user.membership == "approved"  # approval is not taken back with the role


def test_the_locale_keycloak_sends_is_the_language_of_the_members_e_mail(sso, alice, person):
    name = person(attributes={"locale": ["en"]})
    sign_in(Client(), name)
    member = User.objects.get(username=name)
    assert member.language == "en"
    member.approve(by=alice)
    assert [m.subject for m in mail.outbox if m.to == [member.email]] == [
        "[AIXOps] Your access is approved"
    ]

    # A sign-in without the claim (no pick in Keycloak) keeps what is known; a new pick
    # wins, and a locale the portal does not speak changes nothing.
    sso.upsert_user({"username": name, "attributes": {}})
    sign_in(Client(), name)
    member.refresh_from_db()
    assert member.language == "en"
    sso.upsert_user({"username": name, "attributes": {"locale": ["ko"]}})
    sign_in(Client(), name)
    member.refresh_from_db()
    assert member.language == "ko"
    sso.upsert_user({"username": name, "attributes": {"locale": ["fr"]}})
    sign_in(Client(), name)
    member.refresh_from_db()
    assert member.language == "ko"


def test_people_are_matched_by_subject_never_by_email(sso, django_user_model, person):
    name = person()
    local = django_user_model.objects.create_user(username="local", email=f"{name}@aixops.test")
    sign_in(Client(), name)
    local.refresh_from_db()
    assert local.oidc_subject is None
    assert User.objects.get(username=name).oidc_subject


def test_a_local_account_with_the_same_name_is_not_taken_over(sso, django_user_model):
    local_admin = django_user_model.objects.create_superuser(username="admin", password="x")
    sign_in(Client(), "admin")
    local_admin.refresh_from_db()
    assert local_admin.oidc_subject is None
    assert User.objects.get(oidc_subject__isnull=False).username == "admin.6f1c2a3e"


def test_unverified_email_is_dropped_by_default(sso):
    sign_in(Client(), "unverified")
    user = User.objects.get(username="unverified")
    assert user.email == ""


def test_unverified_email_domain_does_not_auto_approve(sso, settings):
    settings.MEMBER_AUTO_APPROVE_EMAIL_DOMAINS = ["aixops.test"]
    settings.OIDC_UNVERIFIED_EMAIL = "allow"
    sign_in(Client(), "unverified")
    assert User.objects.get(username="unverified").membership == "pending"
    sign_in(Client(), "member")
    assert User.objects.get(username="member").membership == "approved"


def test_unverified_email_can_be_refused(sso, settings):
    settings.OIDC_UNVERIFIED_EMAIL = "reject"
    response, _ = sign_in(Client(), "unverified")
    assert response.status_code == 400
    assert 'data-reason="refused"' in response.content.decode()
    assert not User.objects.filter(username="unverified").exists()


def test_auto_approval_by_group(sso, settings, person):
    settings.MEMBER_AUTO_APPROVE_GROUPS = ["/platform/devops"]
    name = person()
    sign_in(Client(), name)
    event = AuditEvent.objects.get(target__username=name, action="approve")
    assert event.automatic and event.reason == "auto-approval: group /platform/devops"


def test_discovery_and_keys_are_not_fetched_at_every_sign_in(sso, monkeypatch):
    asked = []
    get, fetch_keys = requests.get, jwt.PyJWKClient.fetch_data
    monkeypatch.setattr(requests, "get", lambda url, **kw: asked.append(url) or get(url, **kw))
    monkeypatch.setattr(
        jwt.PyJWKClient, "fetch_data", lambda self: asked.append(self.uri) or fetch_keys(self)
    )
    for _ in range(3):
        sign_in(Client(), "member")
    metadata = [url for url in asked if "openid-configuration" in url or url.endswith("/certs")]
    assert len(metadata) == 2, asked  # the discovery document and the key set, once each


def test_disabled_user_cannot_sign_in(sso, person):
    name = person()
    sso.disable_user(name)
    client = Client()
    start = client.get("/oidc/authenticate/")
    with pytest.raises(AssertionError, match="disabled"):
        provider_login(start["Location"], name, name, stop_at="http://testserver/")
