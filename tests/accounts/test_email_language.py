"""The portal writes to each person in their language: the one Keycloak says they picked
(`locale`), or their pick in the portal's language switch; else LANGUAGE_CODE."""

import pytest
from django.core import mail
from django.test import Client

from accounts import services
from accounts.models import User

APPROVED_KO = "[AIXOps] 접근이 승인되었습니다"
APPROVED_EN = "[AIXOps] Your access is approved"


@pytest.fixture
def frank(django_user_model):
    """Waiting for approval too; reads English."""
    return django_user_model.objects.create_user(
        username="frank", email="frank@example.com", membership="pending", language="en"
    )


def approve_both(carol, frank, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        User.objects.transition([carol.pk, frank.pk], User.APPROVE, by=alice)
    return {message.to[0]: message for message in mail.outbox}


def test_each_member_hears_about_approval_in_their_language(
    carol, frank, alice, django_capture_on_commit_callbacks
):
    sent = approve_both(carol, frank, alice, django_capture_on_commit_callbacks)
    assert sent["frank@example.com"].subject == APPROVED_EN
    assert "an administrator approved your access" in sent["frank@example.com"].body
    # Carol never said: the portal's default language.
    assert sent["carol@example.com"].subject == APPROVED_KO


def test_without_a_language_of_their_own_members_get_language_code(
    carol, frank, alice, settings, django_capture_on_commit_callbacks
):
    settings.LANGUAGE_CODE = "en"
    User.objects.filter(pk=frank.pk).update(language="ko")
    sent = approve_both(carol, frank, alice, django_capture_on_commit_callbacks)
    assert sent["carol@example.com"].subject == APPROVED_EN
    assert sent["frank@example.com"].subject == APPROVED_KO


def test_rejection_is_in_the_members_language(frank, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        frank.reject(by=alice, reason="not on the team")
    (message,) = mail.outbox
    assert message.subject == "[AIXOps] Your access request was declined"
    assert "Reason: not on the team" in message.body


def test_admins_hear_of_a_newcomer_each_in_their_language(carol, sam, django_user_model):
    for name in ("olga", "oscar"):
        django_user_model.objects.create_user(
            username=name,
            email=f"{name}@example.com",
            membership="approved",
            is_staff=True,
            language="en",
        )
    assert services.send_pending_notice(user_id=carol.pk) == 2
    by_language = {tuple(m.to): m for m in mail.outbox}
    english = by_language[("olga@example.com", "oscar@example.com")]
    assert english.subject == "[AIXOps] carol is waiting for approval"
    korean = by_language[("sam@example.com",)]
    assert korean.subject == "[AIXOps] carol 님이 승인을 기다리고 있습니다"


def test_the_language_switch_is_remembered_for_e_mail(
    carol, alice, django_capture_on_commit_callbacks
):
    client = Client()
    client.force_login(carol)  # on the waiting page, a pending member can switch too
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert response.cookies["django_language"].value == "en"
    carol.refresh_from_db()
    assert carol.language == "en"
    with django_capture_on_commit_callbacks(execute=True):
        carol.approve(by=alice)
    assert mail.outbox[0].subject == APPROVED_EN


def test_a_language_the_portal_lacks_changes_nothing(bob_client, bob):
    bob_client.post("/i18n/setlang/", {"language": "fr", "next": "/"})
    bob.refresh_from_db()
    assert bob.language == ""


def test_anonymous_visitors_can_still_switch(db, client):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.cookies["django_language"].value == "en"


@pytest.mark.parametrize(
    ("tag", "language"),
    [("en", "en"), ("en-US", "en"), ("ko_KR", "ko"), ("KO", "ko"), ("fr", ""), ("", ""), (7, "")],
)
def test_language_tags_map_to_the_portals_languages(tag, language):
    assert services.supported_language(tag) == language
