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
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.test import Client, RequestFactory
from django.urls import URLResolver, reverse
from django.utils import timezone

from accounts.models import ApiToken
from accounts.permissions import admin_group
from aixops.models import OutboxTask
from portal.models import (
    CatalogRevision,
    Category,
    Channel,
    ChecklistItem,
    CheckResult,
    DataStore,
    Delivery,
    HealthCheck,
    Incident,
    MaintenanceWindow,
    Pin,
    Service,
)
from tests.factories import client_for, make_checks, make_finished_scan, make_gitlab_down_alert
from workspaces.models import Workspace

PAGES = ["/", "/categories/devops/"]
# Pages about the catalog's health, which name its items but not its texts.
HEALTH_PAGES = ["/status/"]
API = ["/api/categories/", "/api/categories/devops/"]
# JSON that is about the catalog's health but carries no catalog text by itself.
# The catalog's search: what it finds names the catalog's items.
SEARCH_PAGES = ["/search/?q=gitlab"]
SEARCH_API = ["/api/search/?q=gitlab"]
HEALTH_API = [
    "/api/health/",
    "/api/incidents/",
    "/api/status/",
    "/api/items/devops/gitlab/history/",
    "/api/pins/",  # the reader's own pinned tools (none here)
]

# An open page's live status (live.js): the health to swap in, as JSON, answered as pages are.
LIVE = ["/live/?state=drawn-earlier", "/live/categories/devops/?state=drawn-earlier"]

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
@pytest.mark.parametrize(
    "url", PAGES + HEALTH_PAGES + SEARCH_PAGES + LIVE + API + HEALTH_API + SEARCH_API
)
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
@pytest.mark.parametrize("url", PAGES + HEALTH_PAGES + SEARCH_PAGES + LIVE)
def test_members_not_approved_see_a_page_that_says_why(visitor, url):
    name, client = visitor
    response = client.get(url)
    assert response.status_code == 403
    body = response.content.decode()
    assert f'id="{STATE_PAGE[name]}"' in body
    assert no_catalog_data(body)


@pytest.mark.parametrize("visitor", ["carol", "dave", "erin"], indirect=True)
@pytest.mark.parametrize("url", API + HEALTH_API + SEARCH_API)
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
@pytest.mark.parametrize("url", HEALTH_API + LIVE)
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


# Pinning tools to one's home page (tests/portal/test_pins.py): approved members and staff.
PIN_ROUTES = [
    "/pins/gitlab/pin/",
    "/pins/gitlab/unpin/",
    "/pins/gitlab/move/",
    "/pins/remove-gone/",
]


def assert_pin_route_answered(name: str, response) -> None:
    """Anonymous visitors are sent to sign in, members not approved get the page that says
    why, approved members and staff are sent back (where the form said, else home)."""
    if name == "anonymous":
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    elif name in STATE_PAGE:
        assert response.status_code == 403
        assert f'id="{STATE_PAGE[name]}"' in response.content.decode()
    else:
        assert response.status_code == 302
    assert no_catalog_data(response.content.decode())


@pytest.mark.parametrize(
    "visitor", ["anonymous", "carol", "dave", "erin", "bob", "sam"], indirect=True
)
@pytest.mark.parametrize("url", PIN_ROUTES)
def test_only_approved_members_and_staff_pin_tools(visitor, url):
    name, client = visitor
    response = client.post(url, {"after": "jenkins"} if url.endswith("/move/") else {})
    assert_pin_route_answered(name, response)
    pinned = name in ("bob", "sam") and url.endswith("/pin/")
    assert Pin.objects.filter(service_slug="gitlab").exists() is pinned


@pytest.mark.parametrize(
    "visitor", ["anonymous", "carol", "dave", "erin", "bob", "sam"], indirect=True
)
@pytest.mark.parametrize("url", ["/pins/remove-gone/", "/pins/no-such-tool/unpin/"])
def test_only_approved_members_and_staff_remove_their_pins_of_gone_tools(
    visitor, url, carol, dave, erin, bob, sam
):
    """Everyone has a pin of a tool gone from the catalog; only an approved member's own
    request removes theirs, and nobody else's."""
    name, client = visitor
    for member in (carol, dave, erin, bob, sam):
        Pin.objects.create(user=member, service_slug="no-such-tool")
    response = client.post(url)
    assert_pin_route_answered(name, response)
    left = set(Pin.objects.values_list("user__username", flat=True))
    assert left == {"carol", "dave", "erin", "bob", "sam"} - ({name} & {"bob", "sam"})


@pytest.mark.parametrize("visitor", ["bob", "sam"], indirect=True)
@pytest.mark.parametrize("url", SEARCH_PAGES + SEARCH_API)
def test_approved_members_and_staff_search_the_catalog(visitor, url):
    _, client = visitor
    response = client.get(url)
    assert response.status_code == 200
    assert "GitLab Runner" in response.content.decode()


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
    # Members' own preferences: staff look (a member asking why a tool is not on their
    # page), nobody changes them here; members unpin their own.
    "portal.pin": {"alice": "view", "sam": "view"},
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
    Pin.objects.pin(user=bob, slug="gitlab")


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
@pytest.mark.parametrize("url", [*API, "/api/health/", "/api/status/", *SEARCH_API])
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
@pytest.mark.parametrize("url", [*PAGES, *SEARCH_PAGES, "/accounts/tokens/"])
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


# --- Visibility by Keycloak group ---------------------------------------------------------
#
# Items limited to /platform/devops, each in turn (and none, as the control), against every
# kind of reader and every page and API route. A reader outside the group must not learn
# that a limited item exists: not its name or slug, not through counts, map nodes, the
# health status it would drag down, a checklist step's checks, the top bar, nor a 403.

DEVOPS = "/platform/devops"


@dataclass(frozen=True)
class Persona:
    """A reader: whose session or token, in which Keycloak group, and what they may see."""

    user: str  # a key of the `group_readers` fixture
    by: str = "session"  # or "token", or "revoked token"
    sees_limited: bool = False  # in /platform/devops, or staff


GROUP_PERSONAS = {
    "devops_member": Persona("dana", sees_limited=True),
    "other_group_member": Persona("oscar"),
    "member_of_no_group": Persona("bob"),
    "staff": Persona("sam", sees_limited=True),
    "pending_in_group": Persona("carol"),
    "suspended_in_group": Persona("erin"),
    "devops_member_token": Persona("dana", by="token", sees_limited=True),
    "outsider_token": Persona("oscar", by="token"),
    "revoked_token": Persona("dana", by="revoked token"),
}

# What is limited to /platform/devops in each scenario, and the words that name it.
LIMITED = {
    "nothing": None,
    "category": ("category", "kestrel"),
    "service": ("service", "keymaster"),
    "store": ("data store", "lockbox"),
}
SECRET_WORDS = {
    "nothing": ["Keymaster", "keymaster"],
    "category": ["Kestrel", "kestrel", "Sealbroker", "sealbroker"],
    "service": ["Keymaster", "keymaster"],
    "store": ["Lockbox", "lockbox"],
}
# A search for a letter of each name above (its best 20 on the page, 50 by the API here)
# finds the items the reader may see, and no other.
SEARCH_ROUTES = ["/search/?q=k", "/api/search/?q=k&limit=50"]
DEVOPS_ROUTES = ["/categories/devops/", "/api/categories/devops/", "/api/health/", *SEARCH_ROUTES]
# Where each scenario's item is named to whoever may see it (the top bar names categories).
SHOWN_ON = {
    # The home page's DevOps card names its menu services (their icons' titles).
    "nothing": ["/", *DEVOPS_ROUTES],
    "category": [
        "/",
        "/categories/devops/",
        "/categories/kestrel/",
        "/accounts/workspace/",
        "/accounts/tokens/",
        "/api/categories/",
        "/api/categories/kestrel/",
        "/api/health/",
        *SEARCH_ROUTES,
    ],
    "service": ["/", *DEVOPS_ROUTES],
    "store": DEVOPS_ROUTES,
}
GROUP_ROUTES = [
    "/",
    "/categories/devops/",
    "/categories/kestrel/",
    "/accounts/workspace/",  # pages outside the catalog: the top bar's category links
    "/accounts/tokens/",
    "/api/categories/",
    "/api/categories/devops/",
    "/api/categories/kestrel/",
    "/api/health/",
    *SEARCH_ROUTES,
]


@pytest.fixture
def group_readers(catalog, django_user_model, bob, sam, carol, erin):
    """dana in /platform/devops, oscar in /platform/data; carol (pending) and erin
    (suspended) in /platform/devops too: the group lets nobody in by itself."""
    devops, data = Group.objects.create(name=DEVOPS), Group.objects.create(name="/platform/data")
    dana = django_user_model.objects.create_user(username="dana", membership="approved")
    oscar = django_user_model.objects.create_user(username="oscar", membership="approved")
    dana.groups.add(devops)
    oscar.groups.add(data)
    carol.groups.add(devops)
    erin.groups.add(devops)
    return {"dana": dana, "oscar": oscar, "bob": bob, "sam": sam, "carol": carol, "erin": erin}


@pytest.fixture
def limited_catalog(request, group_readers):
    """The seed catalog plus Keymaster (a menu service of DevOps, down, verifying a step of
    its checklist; Jenkins calls it), Lockbox (a DevOps store, degraded, used by Jenkins and
    Keymaster) and Kestrel (a category of its own with Sealbroker, down); the scenario's
    item limited to /platform/devops."""
    devops = Category.objects.get(slug="devops")
    keymaster = Service.objects.create(
        category=devops, slug="keymaster", name="Keymaster", summary="Unseals", position=99
    )
    lockbox = DataStore.objects.create(
        category=devops, slug="lockbox", name="Lockbox", kind="relational", description="Keys"
    )
    lockbox.used_by.set([keymaster, Service.objects.get(slug="jenkins")])
    Service.objects.get(slug="jenkins").talks_to.add(keymaster)
    kestrel = Category.objects.create(
        slug="kestrel", name="Kestrel", title="Kestrel Guide", summary="Birds", position=99
    )
    Service.objects.create(category=kestrel, slug="sealbroker", name="Sealbroker", summary="s")
    for category in (devops, kestrel, Category.objects.get(slug="identity-access")):
        make_checks(category)
    HealthCheck.objects.filter(slug__in=["keymaster-http", "sealbroker-http"]).update(status="down")
    HealthCheck.objects.filter(slug="lockbox-tcp").update(status="degraded")
    step = ChecklistItem.objects.get(category=devops, position=1)
    HealthCheck.objects.get(slug="keymaster-http").checklist_items.add(step)
    make_finished_scan()
    scenario = request.param
    if LIMITED[scenario]:
        model = {"category": Category, "service": Service, "data store": DataStore}
        kind, slug = LIMITED[scenario]
        model[kind].objects.filter(slug=slug).update(visible_to_groups=[DEVOPS])
        CatalogRevision.bump()
    return scenario


def group_client(persona: Persona, people) -> Client:
    user = people[persona.user]
    if persona.by == "session":
        return client_for(user)
    return token_client(user, spoil="revoked" if persona.by == "revoked token" else None)


def group_route_status(persona: Persona, route: str, *, withheld_category: bool) -> int:
    api = route.startswith("/api/")
    if persona.by == "revoked token":
        return 401 if api else 302
    if persona.user in ("carol", "erin"):
        return 403
    if persona.by == "token" and not api:
        return 302  # pages answer sessions only: to the sign-in page
    if route.endswith("/kestrel/") and withheld_category:
        return 404  # as for a category that does not exist: never a 403
    return 200


def devops_figures(persona: Persona, scenario: str) -> dict:
    """What the DevOps overview must say to this reader: counts, status, map nodes."""
    sees_service = scenario != "service" or persona.sees_limited
    sees_store = scenario != "store" or persona.sees_limited
    services = Service.objects.filter(category__slug="devops")
    stores = DataStore.objects.filter(category__slug="devops")
    if not sees_service:
        services = services.exclude(slug="keymaster")
    if not sees_store:
        stores = stores.exclude(slug="lockbox")
    status = "major_outage" if sees_service else "degraded" if sees_store else "optimal"
    return {
        "visible_apps": 4 + sees_service,
        "data_stores": 4 + sees_store,
        "status": status,
        "nodes": {f"service-{pk}" for pk in services.values_list("pk", flat=True)}
        | {f"store-{pk}" for pk in stores.values_list("pk", flat=True)},
        "withheld": not (sees_service and sees_store),
    }


@pytest.mark.parametrize("limited_catalog", list(LIMITED), indirect=True)
@pytest.mark.parametrize("persona_name", list(GROUP_PERSONAS))
def test_limited_items_reach_only_their_group_and_staff(
    limited_catalog, group_readers, persona_name
):
    scenario, persona = limited_catalog, GROUP_PERSONAS[persona_name]
    client = group_client(persona, group_readers)
    withheld_category = scenario == "category" and not persona.sees_limited
    got, expected = {}, {}
    for route in GROUP_ROUTES:
        response = client.get(route)
        # The address asked for is echoed in the language switch: it tells them nothing.
        body = response.content.decode().replace(route, "")
        status = group_route_status(persona, route, withheld_category=withheld_category)
        named = any(word in body for word in SECRET_WORDS[scenario])
        got[route] = (response.status_code, named)
        visible = scenario == "nothing" or persona.sees_limited
        expected[route] = (status, status == 200 and visible and route in SHOWN_ON[scenario])
    assert got == expected

    if group_route_status(persona, "/api/", withheld_category=False) != 200:
        return
    figures = devops_figures(persona, scenario)
    devops = client.get("/api/categories/devops/").json()
    assert (devops["counts"]["visible_apps"], devops["counts"]["data_stores"]) == (
        figures["visible_apps"],
        figures["data_stores"],
    )
    assert devops["health"]["status"] == figures["status"]
    assert devops["withheld"] is figures["withheld"]
    listed = {c["slug"]: c for c in client.get("/api/categories/").json()["categories"]}
    assert ("kestrel" in listed) is not withheld_category
    assert listed["devops"]["counts"] == {
        key: value for key, value in devops["counts"].items() if key != "items"
    }
    if persona.by == "session":
        page = client.get("/categories/devops/").content.decode()
        assert set(re.findall(r'data-node="([^"]+)"', page)) == figures["nodes"]
        ends = re.findall(r'data-(?:source|target)="([^"]+)"', page)
        assert ends and set(ends) <= figures["nodes"]  # no edge to a withheld node
        assert f'data-scan-status="{figures["status"]}"' in page
        assert ("withheld-note" in page) is figures["withheld"]
        home = client.get("/").content.decode()
        card = re.search(r'href="/categories/devops/".*?data-category-status="(\w+)"', home, re.S)
        assert card.group(1) == figures["status"]
        some_withheld = scenario != "nothing" and not persona.sees_limited
        assert ("withheld-note" in home) is some_withheld


@pytest.mark.parametrize("limited_catalog", ["category"], indirect=True)
@pytest.mark.parametrize("persona_name", ["other_group_member", "member_of_no_group"])
def test_a_withheld_category_answers_as_one_that_does_not_exist(
    limited_catalog, group_readers, persona_name
):
    client = group_client(GROUP_PERSONAS[persona_name], group_readers)
    withheld, missing = client.get("/categories/kestrel/"), client.get("/categories/no-such/")
    assert (withheld.status_code, withheld.content) == (missing.status_code, missing.content)
    api = client.get("/api/categories/kestrel/")
    assert (api.status_code, api.json()) == (404, {"error": "no such category"})
    # The language switch sends them back where they were, as for any address; from there
    # the page answers 404.
    switched = client.post("/i18n/setlang/", {"language": "en", "next": "/categories/kestrel/"})
    assert (switched.status_code, switched["Location"]) == (302, "/categories/kestrel/")
    assert client.get(switched["Location"]).status_code == 404


@pytest.mark.parametrize("limited_catalog", ["service"], indirect=True)
def test_staff_see_limited_items_marked_with_their_groups(limited_catalog, group_readers):
    sam, dana = client_for(group_readers["sam"]), client_for(group_readers["dana"])
    badge = f'data-limited-to="{DEVOPS}"'
    assert badge in sam.get("/categories/devops/").content.decode()
    # Members are never told to whom an item is limited, even one they see.
    assert badge not in dana.get("/categories/devops/").content.decode()

    def limits(client):
        services = client.get("/api/categories/devops/").json()["services"]
        return {s["slug"]: s["visible_to_groups"] for s in services if s["slug"] in LIMITS_SHOWN}

    assert limits(sam) == {"keymaster": [DEVOPS], "gitlab": []}
    assert limits(dana) == {"keymaster": None, "gitlab": None}


LIMITS_SHOWN = {"keymaster", "gitlab"}


@pytest.mark.parametrize("limited_catalog", ["category"], indirect=True)
def test_readers_who_see_the_same_share_one_cached_page(
    limited_catalog, group_readers, django_user_model, django_assert_num_queries
):
    """The page cache is keyed by what a reader may see, never by who they are: ida, in
    /platform/devops and a group no limit names, is served the page cached for dana; oscar
    and bob, in no group a limit names, share another."""
    ida = django_user_model.objects.create_user(username="ida", membership="approved")
    ida.groups.add(Group.objects.get(name=DEVOPS), Group.objects.create(name="/platform/misc"))
    readers = {name: client_for(user) for name, user in group_readers.items()}
    readers["ida"] = client_for(ida)
    readers["dana"].get("/")
    readers["oscar"].get("/")
    # Served from the cache (the page state too): the user, which limiting groups they are
    # in, and their pinned tools (none here).
    with django_assert_num_queries(3):
        assert "Kestrel" in readers["ida"].get("/").content.decode()
    with django_assert_num_queries(3):
        assert "Kestrel" not in readers["bob"].get("/").content.decode()
