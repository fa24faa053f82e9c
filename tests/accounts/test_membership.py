"""Membership transitions: one place of truth, guarded, idempotent, audited."""

import pytest
from django.core import mail

from accounts.models import MembershipError, User
from audit.models import AuditEvent
from workspaces.models import Workspace


def test_a_new_user_starts_pending(db):
    assert User.objects.create_user(username="newcomer").membership == "pending"


def test_superusers_are_approved_when_created(db):
    assert User.objects.create_superuser(username="root", password="x").membership == "approved"


def test_approve_moves_pending_to_approved_and_writes_one_audit_event(carol, alice):
    assert carol.approve(by=alice, ip="10.0.0.7") is True
    carol.refresh_from_db()
    assert carol.membership == "approved" and carol.membership_changed_at is not None
    event = AuditEvent.objects.get(target=carol, workspace=None)  # not her workspace's
    assert (event.actor, event.actor_name, event.action, event.client_ip) == (
        alice,
        "alice",
        "approve",
        "10.0.0.7",
    )
    assert event.automatic is False


def test_approve_is_idempotent(carol, alice):
    assert carol.approve(by=alice) is True
    assert carol.approve(by=alice) is False
    stale = User.objects.get(pk=carol.pk)
    assert stale.approve(by=alice) is False
    assert AuditEvent.objects.filter(target=carol, action="approve").count() == 1


def test_reject_needs_a_reason(carol, alice):
    with pytest.raises(MembershipError):
        carol.reject(by=alice, reason="  ")
    carol.refresh_from_db()
    assert carol.membership == "pending"
    assert not AuditEvent.objects.exists()


def test_reject_records_the_reason(carol, alice):
    carol.reject(by=alice, reason="unknown person")
    carol.refresh_from_db()
    assert carol.membership == "rejected" and carol.membership_reason == "unknown person"
    assert AuditEvent.objects.get(target=carol).reason == "unknown person"


def test_transitions_are_guarded_on_the_current_state(carol, dave, bob, alice):
    with pytest.raises(MembershipError):
        dave.approve(by=alice)  # rejected stays rejected
    with pytest.raises(MembershipError):
        carol.suspend(by=alice)  # only approved members can be suspended
    with pytest.raises(MembershipError):
        bob.reject(by=alice, reason="too late")  # only pending members can be rejected
    assert not AuditEvent.objects.exists()


def test_suspend_then_reinstate(bob, alice):
    assert bob.suspend(by=alice, reason="laptop stolen") is True
    assert bob.membership == "suspended"
    assert bob.reinstate(by=alice) is True
    assert bob.membership == "approved"
    actions = list(AuditEvent.objects.filter(target=bob).values_list("action", flat=True))
    assert actions == ["reinstate", "suspend"]  # newest first


def test_bulk_transition_reports_what_it_did(carol, bob, dave, alice):
    result = User.objects.transition([carol.pk, bob.pk, dave.pk], User.APPROVE, by=alice)
    assert result.changed == [carol.pk]
    assert result.unchanged == [bob.pk]
    assert result.refused == [dave.pk]


def test_audit_log_is_append_only(carol, alice):
    carol.approve(by=alice)
    event = AuditEvent.objects.get(action="approve")
    event.reason = "rewritten"
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        AuditEvent.objects.update(reason="rewritten")
    with pytest.raises(TypeError):
        AuditEvent.objects.all().delete()


def test_members_hear_about_approval_after_commit(carol, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        carol.approve(by=alice)
        assert mail.outbox == []  # nothing leaves before the transaction commits
        # The workspace request (WORKSPACE_AUTO_REQUEST) is made with the approval.
        assert Workspace.objects.get(owner=carol).status == "requested"
    assert len(callbacks) == 1  # the outbox, sending the e-mail
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["carol@example.com"]


def test_rejected_members_are_told_the_reason(carol, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        carol.reject(by=alice, reason="please ask your team lead first")
    assert "please ask your team lead first" in mail.outbox[0].body


def test_suspension_sends_no_mail(bob, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        bob.suspend(by=alice)
    assert mail.outbox == []
