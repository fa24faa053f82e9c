"""Who sees what: every portal page and API URL, and every admin page and action, for
every kind of visitor.

Only approved members get data; pending, rejected and suspended members get a page (or a
JSON 403) that says why, and nothing from the catalog. Only approved staff get into the
admin, and there only what their rights cover. A personal API token is its member on the
API, and nothing at all once revoked or expired.
"""

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.test import Client, RequestFactory
from django.urls import URLResolver, reverse
from django.utils import timezone

from accounts.models import ApiToken
from accounts.permissions import admin_group
from aixops.models import OutboxTask
from portal.models import (
    Category,
    Channel,
    ChecklistItem,
    CheckResult,
    DataStore,
    Delivery,
    HealthCheck,
    Incident,
    MaintenanceWindow,
    Service,
)
from tests.factories import client_for, make_finished_scan, make_gitlab_down_alert
from workspaces.models import Workspace

PAGES = ["/", "/categories/devops/"]
# Pages about the catalog's health, which name its items but not its texts.
HEALTH_PAGES = ["/status/"]
API = ["/api/categories/", "/api/categories/devops/"]
# JSON that is about the catalog's health but carries no catalog text by itself.
HEALTH_API = [
    "/api/health/",
    "/api/incidents/",
    "/api/status/",
    "/api/items/devops/gitlab/history/",
]

# Text from the catalog that must never reach someone who is not let in.
# (The URL itself appears in the language switch, so the slug is not on this list.)
CATALOG_TEXT = ["DevOps Guide", "GitLab", "Jenkins", "Source control"]

STATE_PAGE = {
    "carol": "membership-pending",
    "dave": "membership-rejected",
    "erin": "membership-suspended",
}


@pytest.fixture
def visitor(request, catalog, carol, dave, erin, bob, sam):
    people = {"carol": carol, "dave": dave, "erin": erin, "bob": bob, "sam": sam}
    if request.param == "anonymous":
        return "anonymous", Client()
    return request.param, client_for(people[request.param])


def no_catalog_data(body: str) -> bool:
    return not any(text in body for text in CATALOG_TEXT)


def token_client(owner, *, spoil=None) -> Client:
    """A client sending `owner`'s personal API token and no session; `spoil` is "revoked"
    or "expired"."""
    token, secret = ApiToken.objects.issue(owner=owner, name="matrix", by=owner)
    if spoil == "revoked":
        token.revoke(by=owner)
    elif spoil == "expired":
        ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(days=1))
    return Client(headers={"authorization": f"Bearer {secret}"})


@pytest.mark.parametrize("visitor", ["anonymous"], indirect=True)
@pytest.mark.parametrize("url", PAGES + HEALTH_PAGES + API + HEALTH_API)
def test_anonymous_visitors_get_nothing(visitor, url):
    _, client = visitor
    response = client.get(url)
    if url.startswith("/api/"):
        assert response.status_code == 401
        assert response.json() == {"error": "authentication required"}
    else:
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    assert no_catalog_data(response.content.decode())


@pytest.mark.parametrize("visitor", ["carol", "dave", "erin"], indirect=True)
@pytest.mark.parametrize("url", PAGES + HEALTH_PAGES)
def test_members_not_approved_see_a_page_that_says_why(visitor, url):
    name, client = visitor
    response = client.get(url)
    assert response.status_code == 403
    body = response.content.decode()
    assert f'id="{STATE_PAGE[name]}"' in body
    assert no_catalog_data(body)


@pytest.mark.parametrize("visitor", ["carol", "dave", "erin"], indirect=True)
@pytest.mark.parametrize("url", API + HEALTH_API)
def test_members_not_approved_get_a_json_403(visitor, url):
    name, client = visitor
    response = client.get(url)
    assert response.status_code == 403
    body = response.json()
    assert body["error"] == "membership not approved"
    assert body["membership"] == {"carol": "pending", "dave": "rejected", "erin": "suspended"}[name]
    assert no_catalog_data(response.content.decode())


@pytest.mark.parametrize("visitor", ["bob", "sam"], indirect=True)
@pytest.mark.parametrize("url", PAGES + API)
def test_approved_members_and_staff_see_the_catalog(visitor, url):
    _, client = visitor
    response = client.get(url)
    assert response.status_code == 200
    assert "DevOps Guide" in response.content.decode()


@pytest.mark.parametrize("visitor", ["bob", "sam"], indirect=True)
@pytest.mark.parametrize("url", HEALTH_API)
def test_approved_members_and_staff_get_the_health_json(visitor, url):
    _, client = visitor
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("visitor", ["bob", "sam"], indirect=True)
@pytest.mark.parametrize("url", HEALTH_PAGES)
def test_approved_members_and_staff_see_the_status_page(visitor, url):
    _, client = visitor
    response = client.get(url)
    assert response.status_code == 200
    assert "GitLab" in response.content.decode()


# Badges: readable by anyone only for items marked public; hidden services' by staff only;
# to anyone else a badge does not exist (404, never 403: the address says nothing).
BADGE_READERS = ["anonymous", "carol", "erin", "bob", "sam"]
BADGE_KINDS = ["status", "uptime-90d"]  # the others: tests/portal/test_status.py
BADGE_ITEMS = {
    # item: (marked public, hidden service)
    "gitlab": (True, False),
    "gitlab-postgresql": (True, False),
    "jenkins": (False, False),
    "jenkins-home": (False, False),
    "flower": (True, True),
    "gitlab-runner": (False, True),
}


def badge_expected(reader: str, item: str) -> int:
    public, hidden = BADGE_ITEMS[item]
    if hidden:
        return 200 if reader == "sam" else 404
    if reader in ("bob", "sam"):
        return 200
    return 200 if public else 404


@pytest.fixture
def badge_items(catalog):
    for slug, (public, hidden) in BADGE_ITEMS.items():
        Service.objects.filter(slug=slug).update(public_badge=public, hidden=hidden)
        DataStore.objects.filter(slug=slug).update(public_badge=public)


@pytest.mark.parametrize("visitor", BADGE_READERS, indirect=True)
@pytest.mark.parametrize("item", BADGE_ITEMS)
@pytest.mark.parametrize("kind", BADGE_KINDS)
def test_every_badge_answers_each_reader_as_it_should(badge_items, visitor, item, kind):
    name, client = visitor
    response = client.get(f"/badges/devops/{item}/{kind}.svg")
    assert response.status_code == badge_expected(name, item)
    if response.status_code == 200:
        assert response["Content-Type"].startswith("image/svg+xml")
    else:
        assert no_catalog_data(response.content.decode())


def test_waiting_page_says_when_they_signed_up_and_whom_to_ask(catalog, carol, settings):
    settings.MEMBER_APPROVAL_CONTACT = "platform-team@example.com"
    body = client_for(carol).get("/").content.decode()
    assert "platform-team@example.com" in body
    assert timezone.localtime(carol.date_joined).strftime("%Y-%m-%d") in body


def test_rejected_page_gives_the_reason(catalog, dave):
    assert "not on the team" in client_for(dave).get("/").content.decode()


def test_membership_check_costs_no_query(catalog, carol, django_assert_num_queries):
    client = client_for(carol)
    # 1. the signed-in user (with its membership); the session comes from the cache.
    with django_assert_num_queries(1):
        assert client.get("/api/categories/").status_code == 403


# --- The Admin UI -------------------------------------------------------------------------
#
# Every URL the admin site serves, walked from `admin.site.get_urls()`: a model or view
# registered tomorrow is in the matrix without anyone listing it, and the test fails until
# someone writes down who may use it.

ALL = "view add change delete"

# What the superuser (alice) and the `Platform admins` group (sam) may do with each model.
RIGHTS = {
    "auth.group": {"alice": ALL, "sam": ""},
    "accounts.user": {"alice": ALL, "sam": "view change"},
    # The queue's "change" is its list and actions; a member is edited on the user page.
    "accounts.pendingmember": {"alice": "view change delete", "sam": "view change"},
    "audit.auditevent": {"alice": "view", "sam": "view"},
    "aixops.outboxtask": {"alice": "view", "sam": "view"},
    "workspaces.workspace": {"alice": "view change", "sam": "view change"},
    "portal.category": {"alice": ALL, "sam": ALL},
    "portal.service": {"alice": ALL, "sam": ALL},
    "portal.datastore": {"alice": ALL, "sam": ALL},
    "portal.focusarea": {"alice": ALL, "sam": ALL},
    "portal.checklistitem": {"alice": ALL, "sam": ALL},
    "portal.confignote": {"alice": ALL, "sam": ALL},
    "portal.healthcheck": {"alice": ALL, "sam": ALL},
    "portal.maintenancewindow": {"alice": ALL, "sam": ALL},
    "portal.scan": {"alice": "view", "sam": "view"},
    "portal.checkresult": {"alice": "view", "sam": "view"},
    # Admins run alerting: they make channels and send tests; alerts and the delivery log
    # are records the scans write.
    "portal.channel": {"alice": ALL, "sam": ALL},
    "portal.alertevent": {"alice": "view", "sam": "view"},
    "portal.delivery": {"alice": "view", "sam": "view"},
    # Scans open and resolve incidents; admins post updates (the change page's form).
    "portal.incident": {"alice": "view change", "sam": "view change"},
}

# The right each standard page of a model needs.
PAGE_NEEDS = {
    "changelist": "view",
    "add": "add",
    "change": "view",  # without "change", a read-only page
    "history": "view",
    "delete": "delete",
}

# Pages of a model beyond the standard ones, by URL name, and what each admin gets.
MODEL_EXTRAS = {
    # Whoever sets a local password can sign in as that person: superusers only.
    "auth_user_password_change": {"alice": 200, "sam": 403},
    "portal_scan_scan_now": {"alice": 405, "sam": 405},  # POST only (below)
}

# The site's own pages, for admins. Login and logout are the portal's (aixops/urls.py).
SITE_PAGES = {
    "index": 200,
    "password_change": 200,
    "password_change_done": 200,
    "autocomplete": 403,  # without naming a field to complete
    "jsi18n": 200,
    "view_on_site": 302,  # to the category's page
    "catch_all": 404,
}

NOT_ADMINS = ["anonymous", "carol", "dave", "erin", "bob", "pending_staff", "suspended_staff"]
ADMINS = ["sam", "alice"]


@dataclass(frozen=True)
class AdminRoute:
    name: str  # the URL name; `object` and `catch_all` for the two unnamed patterns
    url: str
    model: str = ""  # "app_label.model_name", for a model's pages
    app: str = ""  # for an app's index page


def _walk(patterns, prefix="", included=""):
    """(the include it is under, the full pattern, its name) for each URL pattern."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            here = prefix + str(pattern.pattern)
            yield from _walk(pattern.url_patterns, here, here)
        else:
            yield included, prefix + str(pattern.pattern), pattern.name


def _as_superuser():
    """A request by a superuser, for asking a model admin what it has at all."""
    request = RequestFactory().get("/admin/")
    request.user = get_user_model().objects.filter(is_superuser=True).first()
    return request


def first_row(model):
    """The first row the model's admin lists (the `rows` fixture makes sure there is one)."""
    queryset = admin.site.get_model_admin(model).get_queryset(_as_superuser())
    row = queryset.order_by("pk").first()
    assert row is not None, f"make a {model._meta.label_lower} in the `rows` fixture"
    return row


def admin_routes() -> list[AdminRoute]:
    """One concrete URL for every pattern of the admin site."""
    routes, app_labels = [], set()
    for included, pattern, name in _walk(admin.site.get_urls()):
        if name == "app_list":
            continue  # one per app, below
        if included:  # a model admin's pages, under `<app_label>/<model_name>/`
            app_label, model_name = included.strip("/").split("/")
            app_labels.add(app_label)
            row = first_row(apps.get_model(app_label, model_name))
            model = f"{app_label}.{model_name}"
            if name is None:  # `<object_id>/`, which redirects to the change page
                url = f"/admin/{app_label}/{model_name}/{row.pk}/"
                routes.append(AdminRoute("object", url, model))
                continue
            kwargs = {key: row.pk for key in re.findall(r"<(?:\w+:)?(\w+)>", pattern)}
            routes.append(AdminRoute(name, reverse(f"admin:{name}", kwargs=kwargs), model))
        elif name == "view_on_site":
            content_type = ContentType.objects.get_for_model(Category)
            args = [content_type.pk, Category.objects.first().pk]
            url = reverse("admin:view_on_site", args=args)
            routes.append(AdminRoute(name, url))
        elif name is None:
            routes.append(AdminRoute("catch_all", "/admin/no-such-page/"))
        else:
            routes.append(AdminRoute(name, reverse(f"admin:{name}")))
    routes += [
        AdminRoute("app_list", reverse("admin:app_list", args=[label]), app=label)
        for label in sorted(app_labels)
    ]
    return routes


def rights(persona: str, model: str) -> list[str]:
    assert model in RIGHTS, f"say in RIGHTS who may use the {model} admin"
    return RIGHTS[model][persona].split()


def expected_status(persona: str, route: AdminRoute):
    """What `persona` must get at `route`; "login" is a redirect to the admin's sign-in."""
    if route.name == "login":
        return 200  # the local form: no Keycloak in these tests
    if route.name == "logout":
        return 405  # POST only
    if persona in NOT_ADMINS:
        return "login"
    if route.app:  # an app's index: 404 when they may see none of its models
        visible = [r[persona] for model, r in RIGHTS.items() if model.startswith(f"{route.app}.")]
        return 200 if any(visible) else 404
    if not route.model:
        return SITE_PAGES[route.name]
    if route.name == "object":
        return 302
    if route.name in MODEL_EXTRAS:
        return MODEL_EXTRAS[route.name][persona]
    page = route.name.removeprefix(route.model.replace(".", "_") + "_")
    assert page in PAGE_NEEDS, f"say in MODEL_EXTRAS who may open {route.name}"
    return 200 if PAGE_NEEDS[page] in rights(persona, route.model) else 403


@pytest.fixture
def rows(catalog, alice, bob, sam, carol):
    """At least one row of every model the admin shows, for its object pages."""
    gitlab = Service.objects.get(slug="gitlab")
    # Disabled: a scan started from the admin probes nothing.
    check = HealthCheck.objects.create(
        slug="gitlab-http", service=gitlab, target="/-/health", enabled=False
    )
    scan = make_finished_scan()
    CheckResult.objects.create(
        scan=scan, health_check=check, checked_at=scan.finished_at, outcome="up", status="up"
    )
    now = timezone.now()
    MaintenanceWindow.objects.create(
        service=gitlab, starts_at=now, ends_at=now + timedelta(hours=1), note="upgrade"
    )
    # An e-mail channel: the tests' mail stays in memory, so *Send test* reaches nobody.
    channel = Channel.objects.create(name="ops", kind="email", target="ops@example.com")
    Delivery.objects.create(alert=make_gitlab_down_alert(), channel=channel)
    Incident.objects.create(
        title="GitLab", category=gitlab.category, service=gitlab, cause="gitlab"
    )
    Workspace.objects.request([bob.pk], by=alice)  # a workspace, and its audit event
    OutboxTask.objects.create(task="accounts.tasks.notify_admins", args=[carol.pk], task_id="t")


@pytest.fixture
def admin_persona(request, rows, django_user_model, carol, dave, erin, bob, sam, alice):
    """A client for each persona, plus staff of the admin group still waiting or suspended."""
    people = {"carol": carol, "dave": dave, "erin": erin, "bob": bob, "sam": sam, "alice": alice}
    for name, membership in [("pending_staff", "pending"), ("suspended_staff", "suspended")]:
        people[name] = django_user_model.objects.create_user(
            username=name, membership=membership, is_staff=True
        )
        people[name].groups.add(admin_group())

    def new_client():
        # A 500 is an answer to record, not an exception; messages are read in English.
        client = Client(raise_request_exception=False, headers={"accept-language": "en"})
        if request.param != "anonymous":
            client.force_login(people[request.param])
        return client

    return request.param, new_client


def outcome(response):
    if response.status_code == 302 and response["Location"].startswith("/admin/login/"):
        return "login"
    return response.status_code


@pytest.mark.parametrize("admin_persona", NOT_ADMINS + ADMINS, indirect=True)
def test_every_admin_page_answers_each_persona_as_it_should(admin_persona):
    persona, new_client = admin_persona
    client = new_client()
    routes = admin_routes()
    got = {route.url: outcome(client.get(route.url)) for route in routes}
    assert got == {route.url: expected_status(persona, route) for route in routes}


def admin_actions() -> list[tuple[type, str, str]]:
    """(model, action name, the right it needs) for every action of every model admin."""
    found = []
    for model in apps.get_models():
        if admin.site.is_registered(model):
            actions = admin.site.get_model_admin(model).get_actions(_as_superuser())
            for name, (function, _, _) in actions.items():
                (needs,) = function.allowed_permissions
                found.append((model, name, needs))
    return found


def test_the_action_matrix_sees_every_kind_of_action(rows):
    actions = {(model._meta.label_lower, name) for model, name, _ in admin_actions()}
    assert {
        ("accounts.user", "suspend"),
        ("accounts.pendingmember", "reject"),
        ("workspaces.workspace", "change_quota"),
        ("portal.category", "delete_selected"),
        ("portal.channel", "send_test"),
    } <= actions


@pytest.mark.parametrize("admin_persona", NOT_ADMINS + ADMINS, indirect=True)
def test_every_admin_action_answers_each_persona_as_it_should(admin_persona):
    """The first step of every action on one row (those with a confirmation page show it,
    the others run): nobody gets an action their rights do not cover."""
    persona, new_client = admin_persona
    got, expected = {}, {}
    for model, name, needs in admin_actions():
        opts = model._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        # A client of its own: messages left by the previous action would be read here.
        response = new_client().post(
            changelist, {"action": name, "_selected_action": [first_row(model).pk]}
        )
        messages = [str(message) for message in get_messages(response.wsgi_request)]
        key = opts.label_lower, name
        if "No action selected." in messages:  # what Django answers an action not offered
            got[key] = "refused"
        elif outcome(response) in (200, 302):
            got[key] = "ran"
        else:
            got[key] = outcome(response)
        if persona in NOT_ADMINS:
            expected[key] = "login"
        elif "view" not in rights(persona, key[0]):
            expected[key] = 403
        else:
            expected[key] = "ran" if needs in rights(persona, key[0]) else "refused"
    assert got == expected


@pytest.mark.parametrize(
    ("admin_persona", "status"),
    [*[(name, "login") for name in NOT_ADMINS], ("sam", 302), ("alice", 302)],
    indirect=["admin_persona"],
)
def test_only_admins_can_start_a_scan(admin_persona, status):
    _, new_client = admin_persona
    response = new_client().post(reverse("admin:portal_scan_scan_now"))
    assert outcome(response) == status
    if status == 302:
        assert response["Location"] == reverse("admin:portal_scan_changelist")


@pytest.mark.parametrize(
    ("admin_persona", "status"),
    [
        ("anonymous", "sign in"),
        *[(name, 403) for name in ["carol", "dave", "erin", "bob"]],
        ("pending_staff", 403),
        ("suspended_staff", 403),
        ("sam", 302),
        ("alice", 302),
    ],
    indirect=["admin_persona"],
)
def test_only_approved_staff_can_run_a_checklist_steps_checks(admin_persona, status):
    _, new_client = admin_persona
    step = ChecklistItem.objects.get(category__slug="devops", position=1)
    HealthCheck.objects.create(
        slug="step-check", service=Service.objects.get(slug="gitlab"), target="/g"
    ).checklist_items.add(step)
    url = reverse("portal:run-checklist-step", args=[step.pk])
    assert new_client().get(url).status_code == 405
    response = new_client().post(url)
    if status == "sign in":
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))
    else:
        assert response.status_code == status
    queued = OutboxTask.objects.filter(task="portal.tasks.refresh_health").count()
    assert queued == (1 if status == 302 else 0)


def test_signing_out_of_the_admin_ends_the_session(sam):
    client = client_for(sam)
    assert client.get("/admin/").status_code == 200
    assert client.post("/admin/logout/").status_code == 302
    assert outcome(client.get("/admin/")) == "login"


# --- Personal API tokens, the token page and the staff API --------------------------------
#
# Every caller of the API: the session personas above, and scripts with a token (of an
# approved member, of staff, of a pending or suspended member, revoked, expired).

SESSION_CALLERS = ["anonymous", "carol", "dave", "erin", "bob", "sam", "alice"]
TOKEN_CALLERS = [
    "bob_token",
    "sam_token",
    "carol_token",
    "erin_token",
    "revoked_token",
    "expired_token",
]
AUTHENTICATION_REQUIRED = (401, {"error": "authentication required"})
INVALID_TOKEN = (401, {"error": "invalid token"})


def not_approved(membership):
    return 403, {"error": "membership not approved", "membership": membership}


# What each caller gets from the members' API (catalog and health) and the staff API.
MEMBER_API = {
    "anonymous": AUTHENTICATION_REQUIRED,
    "carol": not_approved("pending"),
    "dave": not_approved("rejected"),
    "erin": not_approved("suspended"),
    "bob": 200,
    "sam": 200,
    "alice": 200,
    "bob_token": 200,
    "sam_token": 200,
    "carol_token": not_approved("pending"),
    "erin_token": not_approved("suspended"),
    "revoked_token": INVALID_TOKEN,
    "expired_token": INVALID_TOKEN,
}
STAFF_ONLY = (403, {"error": "staff only"})
STAFF_API = {
    **MEMBER_API,
    "bob": STAFF_ONLY,
    "bob_token": STAFF_ONLY,
}


@pytest.fixture
def caller(request, catalog, carol, dave, erin, bob, sam, alice):
    people = {"carol": carol, "dave": dave, "erin": erin, "bob": bob, "sam": sam, "alice": alice}
    name = request.param
    if name == "anonymous":
        return name, Client()
    if name in people:
        return name, client_for(people[name])
    if name in ("revoked_token", "expired_token"):
        return name, token_client(bob, spoil=name.removesuffix("_token"))
    return name, token_client(people[name.removesuffix("_token")])


def answer(response):
    """The status, and the JSON body of a refusal."""
    if response.status_code in (401, 403):
        return response.status_code, response.json()
    return response.status_code


@pytest.mark.parametrize("caller", SESSION_CALLERS + TOKEN_CALLERS, indirect=True)
@pytest.mark.parametrize("url", [*API, "/api/health/", "/api/status/"])
def test_every_caller_of_the_members_api_gets_what_they_may(caller, url):
    name, client = caller
    response = client.get(url)
    assert answer(response) == MEMBER_API[name]
    if response.status_code != 200:
        assert no_catalog_data(response.content.decode())


@pytest.fixture
def pat(django_user_model):
    """Waiting for approval: the staff API's callers try to decide on her."""
    return django_user_model.objects.create_user(username="pat")


STAFF_CALLS = [
    ("get", "/api/members/pending/", None),
    ("post", "/api/members/pat/approve/", None),
    ("post", "/api/members/pat/reject/", {"reason": "no"}),
    ("post", "/api/members/pat/suspend/", {}),
    ("post", "/api/members/pat/reinstate/", None),
]


@pytest.mark.parametrize("caller", SESSION_CALLERS + TOKEN_CALLERS, indirect=True)
@pytest.mark.parametrize(("method", "url", "body"), STAFF_CALLS)
def test_only_staff_decide_through_the_api(caller, pat, method, url, body):
    name, client = caller
    response = getattr(client, method)(url, body, content_type="application/json")
    expected = STAFF_API[name]
    if expected != 200:
        assert answer(response) == expected
        pat.refresh_from_db()
        assert pat.membership == "pending"
        assert "pat" not in response.content.decode()
    elif url.endswith(("/suspend/", "/reinstate/")):
        assert response.status_code == 409  # allowed, but pat is not approved or suspended
    else:
        assert response.status_code == 200


@pytest.mark.parametrize("caller", SESSION_CALLERS + TOKEN_CALLERS, indirect=True)
@pytest.mark.parametrize("url", [*PAGES, "/accounts/tokens/"])
def test_a_token_opens_no_page(caller, url):
    """Pages answer the session alone: with a token and no session, a caller is anonymous."""
    name, client = caller
    response = client.get(url)
    if name in TOKEN_CALLERS or name == "anonymous":
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    elif name in STATE_PAGE:
        assert response.status_code == 403
        assert f'id="{STATE_PAGE[name]}"' in response.content.decode()
    else:
        assert response.status_code == 200


@pytest.mark.parametrize("caller", SESSION_CALLERS, indirect=True)
def test_only_approved_members_make_tokens(caller):
    name, client = caller
    response = client.post("/accounts/tokens/new/", {"name": "mine"})
    made = ApiToken.objects.filter(name="mine").exists()
    if name in ("bob", "sam", "alice"):
        assert (response.status_code, made) == (200, True)
    else:
        assert response.status_code in (302, 403)
        assert not made


@pytest.mark.parametrize("caller", SESSION_CALLERS + TOKEN_CALLERS, indirect=True)
@pytest.mark.parametrize("url", ["/api/openapi.json", "/api/docs"])
def test_the_api_description_is_open_to_all(caller, url):
    """The schema and its docs page describe the API and hold no data; but a token that no
    longer works is refused wherever it is sent under /api/."""
    name, client = caller
    response = client.get(url)
    if name in ("revoked_token", "expired_token"):
        assert answer(response) == INVALID_TOKEN
    else:
        assert response.status_code == 200
    assert no_catalog_data(response.content.decode())
