"""The member-approval console in the admin: queue, bulk actions, reasons, audit trail."""

from accounts.models import User
from audit.models import AuditEvent
from tests.factories import client_for

CHANGELIST = "/admin/accounts/user/"
QUEUE = "/admin/accounts/pendingmember/"


def act(client, url, action, *users, **extra):
    return client.post(
        url,
        {"action": action, "_selected_action": [u.pk for u in users], **extra},
    )


def test_admin_index_shows_the_pending_count(carol, sam, django_user_model):
    django_user_model.objects.create_user(username="frank")
    client = client_for(sam)
    page = client.get("/admin/", headers={"accept-language": "en"}).content.decode()
    assert "2 members are waiting for approval" in page
    korean = client.get("/admin/", headers={"accept-language": "ko"}).content.decode()
    assert "회원 2명이 승인을 기다리고 있습니다" in korean
    assert QUEUE in page


def test_pending_queue_lists_only_pending_members(carol, bob, dave, sam):
    page = client_for(sam).get(QUEUE).content.decode()
    assert "carol" in page
    assert "dave" not in page and ">bob<" not in page


def test_members_can_be_searched_and_filtered(carol, bob, dave, sam):
    client = client_for(sam)
    page = client.get(CHANGELIST, {"membership__exact": "rejected"}).content.decode()
    assert "dave" in page and "carol@example.com" not in page
    page = client.get(CHANGELIST, {"q": "carol@example"}).content.decode()
    assert "carol" in page and "dave@example.com" not in page


def test_bulk_approve_from_the_queue(carol, django_user_model, sam):
    frank = django_user_model.objects.create_user(username="frank")
    response = act(client_for(sam), QUEUE, "approve", carol, frank)
    assert response.status_code == 302
    assert set(User.objects.filter(membership="approved").values_list("username", flat=True)) >= {
        "carol",
        "frank",
    }
    events = AuditEvent.objects.filter(action="approve")
    assert {e.target.username for e in events} == {"carol", "frank"}
    assert {e.actor for e in events} == {sam}
    assert all(e.client_ip == "127.0.0.1" for e in events)


def test_bulk_reject_asks_for_a_reason_first(carol, sam):
    client = client_for(sam)
    form = act(client, QUEUE, "reject", carol)
    assert form.status_code == 200
    assert 'name="reason"' in form.content.decode()
    carol.refresh_from_db()
    assert carol.membership == "pending"

    empty = act(client, QUEUE, "reject", carol, apply="1", reason="")
    assert empty.status_code == 200  # the form again, with the error
    carol.refresh_from_db()
    assert carol.membership == "pending"

    done = act(client, QUEUE, "reject", carol, apply="1", reason="not a platform user")
    assert done.status_code == 302
    carol.refresh_from_db()
    assert carol.membership == "rejected"
    assert AuditEvent.objects.get(action="reject").reason == "not a platform user"


def test_suspend_and_reinstate_from_the_member_list(bob, sam):
    client = client_for(sam)
    act(client, CHANGELIST, "suspend", bob, apply="1", reason="on leave")
    bob.refresh_from_db()
    assert bob.membership == "suspended" and bob.membership_reason == "on leave"
    act(client, CHANGELIST, "reinstate", bob)
    bob.refresh_from_db()
    assert bob.membership == "approved"


def test_an_action_on_the_wrong_state_is_skipped_with_a_message(dave, sam):
    response = act(client_for(sam), CHANGELIST, "approve", dave)
    assert response.status_code == 302
    dave.refresh_from_db()
    assert dave.membership == "rejected"
    assert not AuditEvent.objects.exists()


def test_member_page_shows_the_audit_trail(carol, sam):
    carol.approve(by=sam, ip="10.1.2.3")
    page = client_for(sam).get(f"{CHANGELIST}{carol.pk}/change/").content.decode()
    assert "Audit trail" in page or "감사 기록" in page
    assert "10.1.2.3" in page and "sam" in page


def test_audit_log_cannot_be_edited_in_the_admin(carol, alice):
    carol.approve(by=alice)
    event = AuditEvent.objects.get(action="approve")
    client = client_for(alice)
    assert client.get("/admin/audit/auditevent/").status_code == 200
    assert client.get("/admin/audit/auditevent/add/").status_code == 403
    assert client.get(f"/admin/audit/auditevent/{event.pk}/delete/").status_code == 403
