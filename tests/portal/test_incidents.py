"""Incidents: an outage opens one for its root cause, its timeline is the state changes and
the admins' updates (each alerted and kept with who posted it), a recovery resolves it, and
open ones head the home page and their category's page."""

import logging

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError

from portal.incidents import incident_post_update
from portal.models import AlertEvent, Incident, IncidentUpdate, Service
from tests.factories import client_for
from tests.portal.alerting import check_for

BANNER = 'class="incident-banner"'


@pytest.fixture
def outage(catalog, default_channels, service, refused_port, scan):
    """Celery's Redis fails with Flower and the Admin UI, which use it: one incident."""
    check_for("celery-redis", f"127.0.0.1:{refused_port}", kind="tcp", failures_before_down=1)
    check_for("flower", service.url("/"), failures_before_down=1)
    check_for("admin-ui", service.url("/"), failures_before_down=1)
    service.get_status = 503
    scan()
    return Incident.objects.get()


def post_update(client, incident, state, text):
    return client.post(
        f"/admin/portal/incident/{incident.pk}/change/",
        {
            "updates-TOTAL_FORMS": "1",
            "updates-INITIAL_FORMS": "0",
            "updates-MIN_NUM_FORMS": "0",
            "updates-MAX_NUM_FORMS": "1000",
            "updates-0-state": state,
            "updates-0-text": text,
            "_continue": "1",
        },
        headers={"accept-language": "en"},
    )


def test_an_outage_opens_one_incident_for_its_root_cause(outage, receiver):
    assert (outage.title, outage.cause, outage.state) == (
        outage.data_store.name,
        "celery-redis",
        "investigating",
    )
    assert outage.affected == ["admin-ui", "flower"]
    assert outage.category.slug == "devops"
    (alert,) = receiver.json_posts()
    assert alert["incident"] == outage.pk
    assert [entry.event for entry in outage.timeline()] == ["down"]


def test_a_recovery_resolves_the_incident_and_ends_its_timeline(outage, service, scan):
    check = outage.data_store.health_checks.get()
    check.target = f"127.0.0.1:{service.port}"  # the store answers again
    check.save()
    service.get_status = 200
    scan()
    outage.refresh_from_db()
    assert outage.state == "resolved"
    assert outage.resolved_at is not None
    assert [(entry.event, sorted(entry.affected)) for entry in outage.timeline()] == [
        ("down", ["admin-ui", "flower"]),
        ("recovered", ["admin-ui", "flower"]),
    ]


def test_an_admin_posts_an_update_that_is_kept_alerted_and_logged(
    outage, sam, receiver, caplog, committed
):
    client = client_for(sam)
    with caplog.at_level(logging.INFO, logger="aixops.audit"), committed():
        response = post_update(client, outage, "identified", "Redis ran out of memory.")
    assert response.status_code == 302

    outage.refresh_from_db()
    assert outage.state == "identified"
    (update,) = IncidentUpdate.objects.all()
    assert (update.state, update.text, update.by, update.by_name) == (
        "identified",
        "Redis ran out of memory.",
        sam,
        "sam",
    )
    assert update.client_ip == "127.0.0.1"
    assert [entry.__class__ for entry in outage.timeline()] == [AlertEvent, IncidentUpdate]

    posted = receiver.json_posts()[-1]
    assert (posted["event"], posted["status"], posted["detail"], posted["incident"]) == (
        "update",
        "identified",
        "Redis ran out of memory.",
        outage.pk,
    )
    (record,) = [r for r in caplog.records if getattr(r, "audit_action", "") == "incident.update"]
    assert (record.audit_actor, record.audit_incident_id) == ("sam", outage.pk)

    page = client.get(f"/admin/portal/incident/{outage.pk}/change/").content.decode()
    assert "Redis ran out of memory." in page


def test_a_resolved_incident_takes_no_more_updates(outage, sam):
    client = client_for(sam)
    assert post_update(client, outage, "resolved", "Fixed.").status_code == 302
    response = post_update(client, outage, "monitoring", "Still watching.")
    assert response.status_code == 200
    assert "This incident is resolved; it takes no more updates." in response.content.decode()
    assert IncidentUpdate.objects.count() == 1
    with pytest.raises(ValidationError):
        incident_post_update(incident=outage, state="monitoring", text="again")
    assert Incident.objects.get().state == "resolved"


def test_an_update_needs_words(outage):
    with pytest.raises(ValidationError):
        incident_post_update(incident=outage, state="identified", text="   ")
    assert IncidentUpdate.objects.count() == 0


def test_open_incidents_head_the_home_and_their_category_pages(outage, bob_client, sam):
    home = bob_client.get("/").content.decode()
    devops = bob_client.get("/categories/devops/").content.decode()
    identity = bob_client.get("/categories/identity-access/").content.decode()
    assert BANNER in home and BANNER in devops
    assert BANNER not in identity
    assert outage.title in devops[devops.index(BANNER) :]

    # The pages are cached; an admin's update moves no scan, yet shows at once.
    incident_post_update(incident=outage, state="monitoring", text="Memory raised to 4 GiB.")
    assert "Memory raised to 4 GiB." in bob_client.get("/categories/devops/").content.decode()
    incident_post_update(incident=outage, state="resolved", text="Stable for an hour.")
    assert BANNER not in bob_client.get("/categories/devops/").content.decode()
    assert BANNER not in bob_client.get("/").content.decode()


def test_the_json_api_lists_incidents_with_their_timelines_in_five_queries(
    outage, bob_client, django_assert_num_queries
):
    incident_post_update(incident=outage, state="identified", text="Out of memory.")
    # 1. the signed-in user, 2. the catalog's group limits, 3. the incidents with their
    # category and cause, 4. their alerts, 5. their updates.
    with django_assert_num_queries(5):
        body = bob_client.get("/api/incidents/").json()
    (incident,) = body["incidents"]
    assert incident == {
        "id": outage.pk,
        "title": outage.title,
        "category": "devops",
        "cause": "celery-redis",
        "affected": ["admin-ui", "flower"],
        "state": "identified",
        "opened_at": outage.opened_at.isoformat(),
        "resolved_at": None,
        "timeline": [
            {
                "at": incident["timeline"][0]["at"],
                "event": "down",
                "status": "down",
                "affected": ["admin-ui", "flower"],
            },
            {"at": incident["timeline"][1]["at"], "update": "identified", "text": "Out of memory."},
        ],
    }


def test_members_see_no_incident_of_a_hidden_service(catalog, bob_client, sam):
    runner = Service.objects.get(slug="gitlab-runner")
    runner.hidden = True
    runner.save()
    Incident.objects.create(
        title="GitLab Runner", category=runner.category, service=runner, cause=runner.slug
    )
    assert bob_client.get("/api/incidents/").json()["incidents"] == []
    assert BANNER not in bob_client.get("/").content.decode()
    assert BANNER not in bob_client.get("/categories/devops/").content.decode()
    staff = client_for(sam)
    assert len(staff.get("/api/incidents/").json()["incidents"]) == 1
    assert BANNER in staff.get("/categories/devops/").content.decode()


def test_an_incident_of_a_limited_service_is_seen_only_by_its_groups(catalog, bob_client, bob):
    gitlab = Service.objects.get(slug="gitlab")
    gitlab.visible_to_groups = ["/platform/devops"]
    gitlab.save()
    Incident.objects.create(
        title="GitLab", category=gitlab.category, service=gitlab, cause="gitlab"
    )
    assert bob_client.get("/api/incidents/").json()["incidents"] == []
    assert BANNER not in bob_client.get("/").content.decode()
    assert BANNER not in bob_client.get("/categories/devops/").content.decode()

    bob.groups.add(Group.objects.create(name="/platform/devops"))
    (incident,) = bob_client.get("/api/incidents/").json()["incidents"]
    assert incident["cause"] == "gitlab"
    assert BANNER in bob_client.get("/").content.decode()
    assert BANNER in bob_client.get("/categories/devops/").content.decode()
