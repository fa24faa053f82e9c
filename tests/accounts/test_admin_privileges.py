"""Staff who are not superusers run members, workspaces and the catalog in the admin UI, but
never hand out a privilege: not to themselves, not to anyone, and not by editing, resetting
or suspending a superuser. Keycloak decides who is staff or superuser."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEvent
from tests.factories import client_for
from workspaces.models import Workspace

CHANGELIST = reverse("admin:accounts_user_changelist")
QUEUE = reverse("admin:accounts_pendingmember_changelist")
NEW_PASSWORD = "a-long-new-passphrase-17"

# Every field of the user form that grants or takes away a privilege.
PRIVILEGES = ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]


def change_url(user):
    return reverse("admin:accounts_user_change", args=[user.pk])


def password_url(user):
    return reverse("admin:auth_user_password_change", args=[user.pk])


def inline_management(page):
    """The management forms of a page's inlines (the audit trail), which every post carries."""
    data = {}
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data |= {management.add_prefix(name): value for name, value in management.initial.items()}
    return data


def post_change_form(client, user, **fields):
    """Post `user`'s change form as the browser would, with `fields` added or changed."""
    page = client.get(change_url(user))
    joined = timezone.localtime(user.date_joined)
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "date_joined_0": joined.strftime("%Y-%m-%d"),
        "date_joined_1": joined.strftime("%H:%M:%S"),
    }
    return client.post(change_url(user), data | inline_management(page) | fields)


def tampered_privileges(user):
    """Everything a forged form could ask for: every flag, group and permission there is."""
    return {
        "is_active": "on",
        "is_staff": "on",
        "is_superuser": "on",
        "groups": [g.pk for g in Group.objects.all()],
        "user_permissions": [p.pk for p in Permission.objects.all()],
        "oidc_subject": "someone-else",
        "password": "md5$forged$hash",
    }


def privileges(user):
    user.refresh_from_db()
    return {
        "is_active": user.is_active,
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
        "groups": set(user.groups.values_list("name", flat=True)),
        "user_permissions": set(user.user_permissions.values_list("codename", flat=True)),
        "oidc_subject": user.oidc_subject,
        "password": user.password,
    }


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def english(user):
    """A client signed in as `user` that reads the admin's messages in English."""
    client = Client(headers={"accept-language": "en"})
    client.force_login(user)
    return client


@pytest.fixture
def root(django_user_model):
    """A second superuser: the break-glass account, with a local password."""
    return django_user_model.objects.create_superuser(username="root", password="root-password")


def test_staff_see_privileges_read_only_and_no_password_on_their_own_page(sam):
    page = client_for(sam).get(change_url(sam))
    assert page.status_code == 200
    fields = page.context["adminform"].form.fields
    assert {"username", "first_name", "last_name", "email"} <= set(fields)
    assert not set(fields) & {*PRIVILEGES, "oidc_subject", "password"}
    assert reverse("admin:auth_user_password_change", args=[sam.pk]) not in page.content.decode()


def test_staff_cannot_make_themselves_superuser(sam):
    before = privileges(sam)
    response = post_change_form(
        client_for(sam), sam, email="sam@platform.example", **tampered_privileges(sam)
    )
    assert response.status_code == 302  # saved: the profile, and nothing else
    assert privileges(sam) == before
    assert sam.email == "sam@platform.example"


def test_staff_cannot_grant_privileges_to_a_member(sam, bob):
    before = privileges(bob)
    response = post_change_form(client_for(sam), bob, **tampered_privileges(bob))
    assert response.status_code == 302
    assert privileges(bob) == before


def test_a_superuser_still_grants_privileges(alice, bob):
    response = post_change_form(
        client_for(alice), bob, is_active="on", is_staff="on", groups=[Group.objects.create().pk]
    )
    assert response.status_code == 302
    assert privileges(bob)["is_staff"] is True
    assert len(privileges(bob)["groups"]) == 1


def test_a_superuser_page_is_read_only_for_staff(sam, root):
    client = client_for(sam)
    page = client.get(change_url(root))
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert root.password not in page.content.decode()  # not even the hash

    before = privileges(root)
    response = post_change_form(client, root, username="taken-over", **tampered_privileges(root))
    assert response.status_code == 403
    root.refresh_from_db()
    assert root.username == "root" and privileges(root) == before


@pytest.mark.parametrize("target", ["root", "bob", "sam"])
def test_only_superusers_set_passwords(target, sam, bob, root, alice):
    user = {"root": root, "bob": bob, "sam": sam}[target]
    before = user.password
    client = client_for(sam)
    assert client.get(password_url(user)).status_code == 403
    form = {"usable_password": "true", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    assert client.post(password_url(user), form).status_code == 403
    user.refresh_from_db()
    assert user.password == before

    assert client_for(alice).post(password_url(user), form).status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


@pytest.fixture
def superuser_in(django_user_model):
    """A superuser whose membership is `state`, as a Keycloak superuser role gives them."""

    def make(state):
        return django_user_model.objects.create_user(
            username=f"super-{state}", is_staff=True, is_superuser=True, membership=state
        )

    return make


@pytest.mark.parametrize(
    ("action", "state", "moved_to", "extra"),
    [
        ("approve", "pending", "approved", {}),
        ("reject", "pending", "rejected", {"apply": "1", "reason": "no"}),
        ("suspend", "approved", "suspended", {"apply": "1", "reason": "taken over"}),
        ("reinstate", "suspended", "approved", {}),
    ],
)
def test_staff_actions_leave_superusers_alone(
    action, state, moved_to, extra, sam, superuser_in, django_user_model
):
    boss = superuser_in(state)
    member = django_user_model.objects.create_user(username="member", membership=state)
    response = english(sam).post(
        CHANGELIST, {"action": action, "_selected_action": [boss.pk, member.pk], **extra}
    )
    assert response.status_code == 302
    boss.refresh_from_db()
    member.refresh_from_db()
    assert (boss.membership, member.membership) == (state, moved_to)
    assert not AuditEvent.objects.filter(target=boss).exists()
    assert "Left alone, only a superuser may change them: super-" + state + "." in (
        messages_of(response)
    )


def test_the_reason_page_lists_only_the_members_staff_may_change(sam, superuser_in, bob):
    boss = superuser_in("approved")
    page = english(sam).post(
        CHANGELIST, {"action": "suspend", "_selected_action": [boss.pk, bob.pk]}
    )
    assert page.status_code == 200
    assert page.context["selected"] == [bob.pk]  # what the page posts back
    assert page.context["rows"] == [bob.username]  # and what it names


def test_staff_cannot_suspend_only_a_superuser_either(sam, root):
    response = english(sam).post(
        CHANGELIST,
        {"action": "suspend", "_selected_action": [root.pk], "apply": "1", "reason": "x"},
    )
    assert response.status_code == 302  # straight back: nothing to ask a reason for
    root.refresh_from_db()
    assert root.membership == "approved"


def test_the_pending_queue_leaves_a_superuser_to_superusers(sam, superuser_in, alice):
    boss = superuser_in("pending")
    english(sam).post(QUEUE, {"action": "approve", "_selected_action": [boss.pk]})
    boss.refresh_from_db()
    assert boss.membership == "pending"

    client_for(alice).post(QUEUE, {"action": "approve", "_selected_action": [boss.pk]})
    boss.refresh_from_db()
    assert boss.membership == "approved"


def test_staff_cannot_request_a_workspace_for_a_superuser(sam, root, bob):
    english(sam).post(
        CHANGELIST, {"action": "request_workspaces", "_selected_action": [root.pk, bob.pk]}
    )
    assert list(Workspace.objects.values_list("owner__username", flat=True)) == ["bob"]


def grant(user, *codenames):
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return User.objects.get(pk=user.pk)  # a fresh row: permissions are cached on the old one


def test_staff_allowed_to_delete_users_still_cannot_delete_a_superuser(sam, root, bob):
    sam = grant(sam, "delete_user")
    client = client_for(sam)
    delete_root = reverse("admin:accounts_user_delete", args=[root.pk])
    assert client.get(delete_root).status_code == 403
    assert client.post(delete_root, {"post": "yes"}).status_code == 403
    bulk = {"action": "delete_selected", "_selected_action": [root.pk, bob.pk], "post": "yes"}
    assert client.post(CHANGELIST, bulk).status_code == 403
    assert User.objects.filter(username__in=["root", "bob"]).count() == 2

    delete_bob = reverse("admin:accounts_user_delete", args=[bob.pk])
    assert client.get(delete_bob).status_code == 200


def test_staff_allowed_to_delete_from_the_queue_still_cannot_delete_a_superuser(
    sam, superuser_in, carol
):
    client = client_for(grant(sam, "delete_pendingmember"))
    boss = superuser_in("pending")
    delete = "admin:accounts_pendingmember_delete"
    assert client.get(reverse(delete, args=[boss.pk])).status_code == 403
    assert client.get(reverse(delete, args=[carol.pk])).status_code == 200


def test_staff_allowed_to_add_users_cannot_create_staff_or_superusers(sam):
    client = client_for(grant(sam, "add_user"))
    add = reverse("admin:accounts_user_add")
    response = client.post(
        add,
        {
            "username": "newcomer",
            "usable_password": "false",
            "is_staff": "on",
            "is_superuser": "on",
            "user_permissions": [p.pk for p in Permission.objects.all()],
            **inline_management(client.get(add)),
        },
    )
    assert response.status_code == 302
    newcomer = User.objects.get(username="newcomer")
    assert (newcomer.is_staff, newcomer.is_superuser) == (False, False)
    assert not newcomer.user_permissions.exists() and not newcomer.has_usable_password()


# --- Groups -------------------------------------------------------------------------------


@pytest.fixture
def group_admin(sam):
    """sam, also allowed to run groups: everything else sam holds comes from the admin group."""
    return grant(sam, "view_group", "add_group", "change_group")


def permission(codename):
    return Permission.objects.get(codename=codename)


def test_staff_create_a_group_only_with_permissions_they_hold(group_admin):
    client = client_for(group_admin)
    add = reverse("admin:auth_group_add")
    refused = client.post(add, {"name": "ops", "permissions": [permission("delete_user").pk]})
    assert refused.status_code == 200  # the form again, with the error
    assert "permissions" in refused.context["adminform"].form.errors
    assert not Group.objects.filter(name="ops").exists()

    held = [permission("change_category").pk, permission("change_group").pk]
    assert client.post(add, {"name": "ops", "permissions": held}).status_code == 302
    assert set(Group.objects.get(name="ops").permissions.values_list("pk", flat=True)) == set(held)


def test_staff_change_only_groups_within_their_own_rights(group_admin):
    ops = Group.objects.create(name="ops")
    ops.permissions.add(permission("delete_user"))
    client = client_for(group_admin)
    page = client.get(reverse("admin:auth_group_change", args=[ops.pk]))
    assert page.status_code == 200 and page.context["has_change_permission"] is False
    # Renamed to a Keycloak group path, it would hand delete_user to that group's members.
    renamed = {"name": "/platform/devops", "permissions": [permission("delete_user").pk]}
    change = reverse("admin:auth_group_change", args=[ops.pk])
    assert client.post(change, renamed).status_code == 403
    assert client.post(reverse("admin:auth_group_delete", args=[ops.pk])).status_code == 403
    ops.refresh_from_db()
    assert ops.name == "ops"


def test_staff_add_to_a_group_only_permissions_they_hold(group_admin):
    editors = Group.objects.create(name="editors")
    editors.permissions.add(permission("view_category"))
    change = reverse("admin:auth_group_change", args=[editors.pk])
    client = client_for(group_admin)

    held = [permission("view_category").pk, permission("change_category").pk]
    assert client.post(change, {"name": "editors", "permissions": held}).status_code == 302
    assert set(editors.permissions.values_list("pk", flat=True)) == set(held)

    more = [*held, permission("delete_user").pk]
    assert client.post(change, {"name": "editors", "permissions": more}).status_code == 200
    assert set(editors.permissions.values_list("pk", flat=True)) == set(held)


def test_staff_cannot_widen_their_own_group(group_admin):
    own = group_admin.groups.get()
    before = set(own.permissions.values_list("pk", flat=True))
    change = reverse("admin:auth_group_change", args=[own.pk])
    response = client_for(group_admin).post(
        change, {"name": own.name, "permissions": [*before, permission("delete_user").pk]}
    )
    assert response.status_code == 200
    assert set(own.permissions.values_list("pk", flat=True)) == before


def test_a_superuser_grants_any_permission_to_a_group(alice):
    response = client_for(alice).post(
        reverse("admin:auth_group_add"),
        {"name": "ops", "permissions": [permission("delete_user").pk]},
    )
    assert response.status_code == 302
    assert Group.objects.get(name="ops").permissions.get().codename == "delete_user"


# --- What staff may still read ------------------------------------------------------------


def test_the_pending_member_page_shows_no_password_hash(sam, carol):
    page = client_for(sam).get(reverse("admin:accounts_pendingmember_change", args=[carol.pk]))
    assert page.status_code == 200
    assert "carol" in page.content.decode()
    assert carol.password not in page.content.decode()
