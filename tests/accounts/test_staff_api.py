"""The staff API: staff tokens list pending members and approve, reject, suspend and
reinstate them through the same transitions, audit and limits as the admin UI."""

import pytest
from django.test import Client

from accounts.models import ApiToken, User
from audit.models import AuditEvent


def token_client(user) -> Client:
    _, secret = ApiToken.objects.issue(owner=user, name="script", by=user)
    # Messages in English: the API answers in the language the request asks for.
    return Client(headers={"authorization": f"Bearer {secret}", "accept-language": "en"})


@pytest.fixture
def sam_api(sam):
    return token_client(sam)


def test_staff_list_pending_members_longest_waiting_first(sam_api, carol, django_user_model):
    django_user_model.objects.create_user(username="zoe", email="zoe@example.com")
    response = sam_api.get("/api/members/pending/")
    assert response.status_code == 200
    members = response.json()["members"]
    assert [m["username"] for m in members] == ["carol", "zoe"]
    assert members[0]["email"] == "carol@example.com"
    assert members[0]["groups"] == []


def test_the_pending_list_reads_in_a_fixed_number_of_queries(
    sam_api, django_user_model, django_assert_num_queries
):
    for n in range(10):
        django_user_model.objects.create_user(username=f"waiting-{n}")
    sam_api.get("/api/members/pending/")  # the token's first use is written down
    # 1. the token with sam; 2-3. sam's permissions (own and through groups);
    # 4. the pending members; 5. their groups.
    with django_assert_num_queries(5):
        assert len(sam_api.get("/api/members/pending/").json()["members"]) == 10


def test_approve_through_the_api_is_the_admins_approve(sam, sam_api, carol):
    response = sam_api.post("/api/members/carol/approve/")
    assert response.status_code == 200
    assert response.json() == {"username": "carol", "membership": "approved", "changed": True}
    carol.refresh_from_db()
    assert carol.is_approved
    event = AuditEvent.objects.get(action="approve", target=carol)
    assert (event.actor, event.client_ip) == (sam, "127.0.0.1")
    # A second call changes nothing and says so.
    again = sam_api.post("/api/members/carol/approve/")
    assert again.json()["changed"] is False
    assert AuditEvent.objects.filter(action="approve").count() == 1


def test_reject_needs_a_reason(sam_api, carol):
    for body in [{}, {"reason": "  "}]:
        response = sam_api.post("/api/members/carol/reject/", body, content_type="application/json")
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "body", "reason"]
    carol.refresh_from_db()
    assert carol.membership == "pending"
    response = sam_api.post(
        "/api/members/carol/reject/",
        {"reason": "not on the team"},
        content_type="application/json",
    )
    assert response.json()["membership"] == "rejected"
    carol.refresh_from_db()
    assert carol.membership_reason == "not on the team"


def test_an_overlong_reason_is_refused_and_changes_nothing(sam_api, carol):
    response = sam_api.post(
        "/api/members/carol/reject/", {"reason": "x" * 2001}, content_type="application/json"
    )
    assert response.status_code == 422
    carol.refresh_from_db()
    assert carol.membership == "pending"


def test_suspend_and_reinstate(sam_api, bob):
    suspended = sam_api.post("/api/members/bob/suspend/", content_type="application/json")
    assert suspended.json()["membership"] == "suspended"
    bob.refresh_from_db()
    assert bob.membership == "suspended"
    assert sam_api.post("/api/members/bob/reinstate/").json()["membership"] == "approved"
    assert [e.action for e in AuditEvent.objects.filter(target=bob).order_by("pk")] == [
        "suspend",
        "reinstate",
    ]


def test_a_transition_the_state_does_not_allow_is_a_409(sam_api, dave):
    response = sam_api.post("/api/members/dave/approve/")
    assert response.status_code == 409
    assert response.json() == {
        "error": "cannot approve a rejected member",
        "membership": "rejected",
    }


def test_a_body_that_is_not_json_is_a_400(sam_api, bob):
    response = sam_api.post(
        "/api/members/bob/suspend/", "reason=x", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"].startswith("Cannot parse request body")
    bob.refresh_from_db()
    assert bob.is_approved


def test_an_unknown_member_is_a_404(sam_api):
    response = sam_api.post("/api/members/nobody/approve/")
    assert response.status_code == 404
    assert response.json() == {"error": "no such member"}


def test_staff_who_are_not_superusers_leave_superusers_alone(sam_api, alice):
    response = sam_api.post("/api/members/alice/suspend/", content_type="application/json")
    assert response.status_code == 403
    alice.refresh_from_db()
    assert alice.is_approved


def test_a_superusers_token_may_suspend_another_superuser(alice, django_user_model):
    other = django_user_model.objects.create_superuser(username="root2", password="x")
    response = token_client(alice).post(
        "/api/members/root2/suspend/", content_type="application/json"
    )
    assert response.status_code == 200
    other.refresh_from_db()
    assert other.membership == "suspended"


def test_staff_without_the_admins_permissions_get_403(django_user_model, carol):
    bare_staff = django_user_model.objects.create_user(
        username="bare", membership="approved", is_staff=True
    )
    client = token_client(bare_staff)
    assert client.get("/api/members/pending/").status_code == 403
    assert client.post("/api/members/carol/approve/").json() == {"error": "staff only"}
    carol.refresh_from_db()
    assert carol.membership == "pending"


def test_members_get_403_and_anonymous_401(bob, carol):
    member = token_client(bob)
    assert member.get("/api/members/pending/").status_code == 403
    assert member.post("/api/members/carol/approve/").status_code == 403
    anonymous = Client()
    response = anonymous.post("/api/members/carol/approve/")
    assert response.status_code == 401
    assert response.json() == {"error": "authentication required"}
    assert response["WWW-Authenticate"] == "Bearer"
    carol.refresh_from_db()
    assert carol.membership == "pending"


def test_a_suspended_staff_token_decides_nothing(sam, sam_api, alice, carol):
    sam.suspend(by=alice)
    response = sam_api.post("/api/members/carol/approve/")
    assert response.status_code == 403
    assert response.json()["membership"] == "suspended"
    assert User.objects.get(pk=carol.pk).membership == "pending"


def test_a_session_must_send_the_csrf_token_a_bearer_token_need_not(sam, carol):
    session = Client(enforce_csrf_checks=True)
    session.force_login(sam)
    response = session.post("/api/members/carol/approve/")
    assert response.status_code == 403
    assert response.json() == {"error": "CSRF check failed"}
    carol.refresh_from_db()
    assert carol.membership == "pending"
    _, secret = ApiToken.objects.issue(owner=sam, name="script", by=sam)
    scripted = Client(enforce_csrf_checks=True, headers={"authorization": f"Bearer {secret}"})
    assert scripted.post("/api/members/carol/approve/").status_code == 200
