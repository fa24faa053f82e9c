"""A scan probes every enabled check once, records it all or nothing, and never overlaps."""

import json
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from importlib import import_module
from io import StringIO
from pathlib import Path

import pytest
import redis
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal import scans, tasks
from portal.health import latest_scan_info
from portal.models import CheckResult, HealthCheck, MaintenanceWindow, Scan, Service
from portal.probes import ProbeOutcome
from portal.rollups import hour_of
from portal.scans import results_prune, scan_lock, scan_run
from portal.sparklines import Sparkline
from tests.factories import make_finished_scan
from tests.subprocesses import child_env

ROOT = Path(__file__).resolve().parents[2]


def add_check(slug, service_slug, target, **fields):
    return HealthCheck.objects.create(
        slug=slug, service=Service.objects.get(slug=service_slug), target=target, **fields
    )


@pytest.fixture
def checks(catalog, http_server, refused_port):
    """GitLab answers, Jenkins is slow, Flower fails; the Admin UI check is disabled."""
    return {
        "gitlab": add_check("gitlab-ok", "gitlab", http_server.url("/ok")),
        "jenkins": add_check(
            "jenkins-slow", "jenkins", http_server.url("/slow?seconds=0.2"), degraded_after_ms=100
        ),
        "flower": add_check("flower-refused", "flower", f"http://127.0.0.1:{refused_port}/"),
        "admin": add_check("admin-off", "admin-ui", http_server.url("/ok"), enabled=False),
    }


def test_a_scan_records_results_state_and_its_summary(checks):
    summary = scan_run(task_id="task-1")
    assert summary == {
        "scan": summary["scan"],
        "checked": 3,
        "up": 1,
        "degraded": 1,
        "down": 0,  # one failure is not enough to go down (flap control)
        "maintenance": 0,
        "duration": summary["duration"],
    }
    assert 0.2 <= summary["duration"] < 5
    scan = Scan.objects.get()
    assert (scan.state, scan.task_id, scan.unknown) == ("finished", "task-1", 1)
    assert scan.finished_at >= scan.started_at
    assert CheckResult.objects.filter(scan=scan).count() == 3
    gitlab = HealthCheck.objects.get(slug="gitlab-ok")
    assert (gitlab.status, gitlab.uptime_24h, gitlab.uptime_7d) == ("up", 100.0, 100.0)
    assert len(gitlab.recent_latencies) == 1
    flower = HealthCheck.objects.get(slug="flower-refused")
    assert (flower.status, flower.consecutive_failures) == ("unknown", 1)
    assert HealthCheck.objects.get(slug="admin-off").checked_at is None


def test_a_scan_writes_its_state_of_each_check_and_keeps_an_admins_edit_made_meanwhile(
    checks,
):
    probed = list(HealthCheck.objects.filter(slug__in=["gitlab-ok", "flower-refused"]))
    # An admin edits a check while the scan probes it: the scan must not undo that.
    HealthCheck.objects.filter(slug="gitlab-ok").update(target="/moved", timeout=9.5)
    scan = Scan.objects.create()
    outcomes = [
        ProbeOutcome(check.pk, "up" if check.slug == "gitlab-ok" else "down", 12.5, "HTTP 200")
        for check in probed
    ]
    scans._record(scan, probed, outcomes, duration=0.5)

    gitlab = HealthCheck.objects.get(slug="gitlab-ok")
    assert (gitlab.target, gitlab.timeout) == ("/moved", 9.5)
    assert (gitlab.status, gitlab.consecutive_successes, gitlab.latency_ms, gitlab.detail) == (
        "up",
        1,
        12.5,
        "HTTP 200",
    )
    assert gitlab.checked_at == scan.results.first().checked_at
    assert (gitlab.uptime_24h, gitlab.uptime_7d, gitlab.recent_latencies) == (100.0, 100.0, [12.5])
    assert gitlab.uptime_base_hour == hour_of(gitlab.checked_at)
    assert (gitlab.reported_status, gitlab.uptime_base) == ("up", [0, 0, 0, 0])
    flower = HealthCheck.objects.get(slug="flower-refused")
    assert (flower.status, flower.consecutive_failures, flower.uptime_24h) == ("unknown", 1, 100.0)
    assert Scan.objects.get(pk=scan.pk).state == "finished"


def test_a_scan_keeps_each_checks_sparkline_drawn_from_its_latencies(checks):
    HealthCheck.objects.filter(slug="gitlab-ok").update(recent_latencies=[20.0, 40.0])
    probed = [HealthCheck.objects.get(slug="gitlab-ok")]
    outcomes = [ProbeOutcome(probed[0].pk, "up", 10.0, "HTTP 200")]
    scans._record(Scan.objects.create(), probed, outcomes, duration=0.1)

    gitlab = HealthCheck.objects.get(slug="gitlab-ok")
    assert gitlab.recent_latencies == [20.0, 40.0, 10.0]
    assert gitlab.sparkline_peak_ms == 40.0
    assert Sparkline.stored(gitlab.sparkline_points, gitlab.sparkline_peak_ms) == (
        Sparkline.from_latencies([20.0, 40.0, 10.0])
    )


def test_upgrading_draws_the_sparkline_of_every_check_scanned_before(checks):
    HealthCheck.objects.filter(slug="gitlab-ok").update(recent_latencies=[20.0, None, 30.0, 40.0])
    HealthCheck.objects.filter(slug="jenkins-slow").update(recent_latencies=[20.0])
    migration = import_module("portal.migrations.0014_healthcheck_sparkline")

    migration.draw_sparklines(apps, None)

    gitlab = HealthCheck.objects.get(slug="gitlab-ok")
    assert Sparkline.stored(gitlab.sparkline_points, gitlab.sparkline_peak_ms) == (
        Sparkline.from_latencies([20.0, None, 30.0, 40.0])
    )
    assert gitlab.sparkline_points.count("|") == 1  # broken at the failed probe
    # One latency draws no line; a check never probed has none either.
    for slug in ("jenkins-slow", "flower-refused"):
        check = HealthCheck.objects.get(slug=slug)
        assert (check.sparkline_points, check.sparkline_peak_ms) == ("", None)


def test_a_scan_refuses_a_check_whose_host_resolves_into_a_denied_network(
    catalog, resolver, connections
):
    add_check("gitlab-metadata", "gitlab", "http://metadata.probe.test/latest/meta-data/")
    assert scan_run()["checked"] == 1
    result = CheckResult.objects.get()
    assert (result.outcome, result.latency_ms, result.detail) == (
        "down",
        None,
        "refused: metadata.probe.test (169.254.169.254) is in HEALTH_CHECK_DENY_NETWORKS "
        "(169.254.0.0/16)",
    )
    assert connections == []


def test_the_second_failure_takes_a_check_down_and_uptime_counts_it(checks):
    HealthCheck.objects.filter(slug="flower-refused").update(status="up")
    scan_run()
    second = scan_run()
    assert second["down"] == 1
    flower = HealthCheck.objects.get(slug="flower-refused")
    assert flower.status == "down"
    assert flower.uptime_24h == 50.0
    assert list(flower.results.values_list("outcome", "status")) == [
        ("down", "down"),
        ("down", "up"),
    ]


def test_a_service_in_maintenance_is_probed_but_reads_maintenance(checks):
    HealthCheck.objects.filter(slug="flower-refused").update(status="down")
    now = timezone.now()
    MaintenanceWindow.objects.create(
        service=Service.objects.get(slug="flower"),
        starts_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(minutes=5),
        note="Flower upgrade",
    )
    summary = scan_run()
    assert (summary["maintenance"], summary["down"]) == (1, 0)
    result = CheckResult.objects.get(health_check__slug="flower-refused")
    assert (result.outcome, result.status) == ("down", "maintenance")
    assert HealthCheck.objects.get(slug="flower-refused").uptime_24h == 100.0


def test_a_scan_skips_while_another_holds_the_lock(checks):
    lock = scan_lock()
    assert lock.acquire(blocking=False)
    try:
        assert scan_run() == {"skipped": "another scan is running"}
        assert not Scan.objects.exists()
    finally:
        lock.release()
    assert "checked" in scan_run()
    assert scan_lock().acquire(blocking=False)  # the scan gave the lock back


def test_the_lock_is_released_only_by_its_holder():
    holder, other = scan_lock(), scan_lock()
    assert holder.acquire(blocking=False)
    assert not other.acquire(blocking=False)
    with pytest.raises(redis.exceptions.LockError):
        other.release()  # not its token: the holder keeps the lock
    assert holder.owned() and not other.acquire(blocking=False)
    holder.release()
    assert other.acquire(blocking=False)


def test_a_scan_whose_lock_lapsed_leaves_the_next_scans_lock_alone(checks, settings):
    settings.HEALTH_LOCK_SECONDS = 1
    first = scan_lock()
    assert first.acquire(blocking=False)
    time.sleep(1.2)  # lapsed: as if the scan outlived its lock
    second = scan_lock()
    assert second.acquire(blocking=False)
    with pytest.raises(redis.exceptions.LockNotOwnedError):
        first.release()
    assert second.owned()
    second.release()


@pytest.mark.django_db(transaction=True)
def test_two_scans_fired_at_once_give_one_run_and_one_skip(http_server):
    call_command("loaddata", "catalog", verbosity=0)
    add_check("gitlab-slow", "gitlab", http_server.url("/slow?seconds=0.5"))
    start = threading.Barrier(2)
    outcomes = []

    def fire():
        start.wait()
        try:
            outcomes.append(scan_run())
        finally:
            connection.close()

    threads = [threading.Thread(target=fire) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted("skipped" in outcome for outcome in outcomes) == [False, True]
    assert Scan.objects.filter(state="finished").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_killed_scan_is_never_shown_and_the_next_one_completes(http_server):
    call_command("loaddata", "catalog", verbosity=0)
    add_check("gitlab-hang", "gitlab", http_server.url("/hang"), timeout=30)
    key = settings.HEALTH_LOCK_KEY
    child = subprocess.Popen(
        [sys.executable, "manage.py", "refresh_health"],
        cwd=ROOT,
        env=child_env(
            HEALTH_LOCK_URL=settings.HEALTH_LOCK_URL,
            HEALTH_LOCK_KEY=key,
            HEALTH_LOCK_SECONDS="3",
        ),
    )
    try:
        deadline = time.monotonic() + 20
        while not Scan.objects.filter(state="running").exists():
            assert time.monotonic() < deadline, "the child scan never started"
            assert child.poll() is None, "the child scan ended early"
            time.sleep(0.1)
        # Mid-scan, as a worker killed by the OOM killer or a redeploy.
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    lock = redis.Redis.from_url(settings.HEALTH_LOCK_URL)
    assert lock.get(key) is not None, "the dead scan's lock is still held"
    assert latest_scan_info() is None
    assert not CheckResult.objects.exists()
    assert scan_run() == {"skipped": "another scan is running"}

    time.sleep(max(0, lock.pttl(key)) / 1000 + 0.1)
    HealthCheck.objects.filter(slug="gitlab-hang").update(target=http_server.url("/ok"))
    summary = scan_run()
    assert summary["up"] == 1
    assert dict(Scan.objects.values_list("state", "task_id").order_by("pk")) == {
        "abandoned": "",
        "finished": "",
    }
    assert latest_scan_info().id == summary["scan"]


def test_the_task_returns_the_summary(checks):
    result = tasks.refresh_health.apply()
    assert result.successful()
    assert set(result.result) == {
        "scan",
        "checked",
        "up",
        "degraded",
        "down",
        "maintenance",
        "duration",
    }
    assert Scan.objects.get().task_id == result.id
    json.dumps(result.result)


def test_refresh_health_command_prints_the_summary(checks):
    out = StringIO()
    call_command("refresh_health", stdout=out)
    summary = json.loads(out.getvalue())
    assert summary["checked"] == 3


def test_refresh_health_command_says_when_redis_is_unreachable(checks, settings, refused_port):
    settings.HEALTH_LOCK_URL = f"redis://127.0.0.1:{refused_port}/0"
    with pytest.raises(Exception, match="HEALTH_LOCK_URL"):
        call_command("refresh_health", stdout=StringIO())


def test_prune_keeps_recent_results_and_the_latest_scan(checks, settings):
    settings.HEALTH_RETENTION_HOURS = 48
    scan_run()
    old = timezone.now() - timedelta(hours=49)
    Scan.objects.update(started_at=old, finished_at=old)
    CheckResult.objects.update(checked_at=old)
    ancient = make_finished_scan(at=old - timedelta(days=1))
    summary = results_prune()
    assert summary["scans_deleted"] == 1
    assert not Scan.objects.filter(pk=ancient.pk).exists()
    # The only finished scan with results is the latest: kept, for the last known state.
    assert CheckResult.objects.count() == 3
    assert tasks.prune_health.apply().result["scans_deleted"] == 0


def test_deleting_a_check_or_a_scan_deletes_their_results(checks):
    first = scan_run()["scan"]
    second = scan_run()["scan"]
    assert CheckResult.objects.count() == 6

    checks["flower"].delete()
    assert set(CheckResult.objects.values_list("health_check__slug", flat=True)) == {
        "gitlab-ok",
        "jenkins-slow",
    }
    Scan.objects.filter(pk=first).delete()
    assert set(CheckResult.objects.values_list("scan", flat=True)) == {second}
    assert CheckResult.objects.count() == 2


def test_beat_schedules_the_scan_with_an_expiry_and_an_hourly_prune():
    schedule = settings.CELERY_BEAT_SCHEDULE
    scan = schedule["refresh-health"]
    assert scan["task"] == "portal.tasks.refresh_health"
    assert scan["schedule"] == settings.HEALTH_SCAN_INTERVAL == 60
    assert scan["options"]["expires"] <= settings.HEALTH_SCAN_INTERVAL
    assert schedule["prune-health"]["task"] == "portal.tasks.prune_health"
    assert schedule["prune-health"]["schedule"].hour == set(range(24))
    # Raw results for two days; the history in rollups for more than a year.
    assert (settings.HEALTH_RETENTION_HOURS, settings.HEALTH_ROLLUP_RETENTION_DAYS) == (48, 400)
    # The scan's deadline ends it before the soft time limit, and that before the hard one.
    assert (
        settings.HEALTH_SCAN_DEADLINE
        < settings.HEALTH_SCAN_SOFT_TIME_LIMIT
        < settings.HEALTH_SCAN_TIME_LIMIT
        < settings.HEALTH_LOCK_SECONDS
    )
    assert tasks.refresh_health.soft_time_limit == settings.HEALTH_SCAN_SOFT_TIME_LIMIT


def test_a_queued_scan_larger_than_a_chunk_is_probed_in_chunks_and_recorded_once(checks, settings):
    settings.HEALTH_SCAN_CHUNK_SIZE = 2
    result = tasks.refresh_health.apply()
    scan = Scan.objects.get()
    assert result.result == {"scan": scan.pk, "checks": 3, "chunks": 2}
    assert (scan.state, scan.task_id, scan.checked) == ("finished", result.id, 3)
    assert (scan.up, scan.degraded, scan.unknown) == (1, 1, 1)
    assert CheckResult.objects.filter(scan=scan).count() == 3
    assert HealthCheck.objects.get(slug="gitlab-ok").status == "up"
    assert scan_lock().acquire(blocking=False)  # the finishing task gave the lock back


def test_a_scan_probes_first_the_checks_that_were_slowest_or_silent_the_scan_before(
    checks, monkeypatch
):
    probed = []
    probe_all = scans.probe_all

    async def watched(specs, **options):
        probed.append([spec.key for spec in specs])
        return await probe_all(specs, **options)

    monkeypatch.setattr(scans, "probe_all", watched)
    gitlab, jenkins, flower = checks["gitlab"].pk, checks["jenkins"].pk, checks["flower"].pk
    HealthCheck.objects.filter(pk=gitlab).update(latency_ms=900.0)
    HealthCheck.objects.filter(pk=jenkins).update(latency_ms=1.0)
    HealthCheck.objects.filter(pk=flower).update(latency_ms=5.0)
    scan_run()
    # Then by what this scan measured: Flower refused (no answer), Jenkins 0.2 s, GitLab.
    scan_run()
    assert probed == [[gitlab, flower, jenkins], [flower, jenkins, gitlab]]


def test_a_scan_deals_its_checks_into_chunks_in_turn_slowest_first(checks, settings, http_server):
    gitlab, jenkins, flower = checks["gitlab"].pk, checks["jenkins"].pk, checks["flower"].pk
    more = [add_check(f"more-{n}", "gitlab", http_server.url("/ok")).pk for n in range(3)]
    latencies = {gitlab: 40.0, jenkins: 700.0, flower: None, more[0]: 5.0, more[1]: 300.0}
    for pk, latency_ms in latencies.items():
        HealthCheck.objects.filter(pk=pk).update(latency_ms=latency_ms)
    settings.HEALTH_SCAN_CHUNK_SIZE = 2
    plans = []
    scan_run(fan_out=plans.append)
    # No answer (Flower) and never probed (more[2]) first, then the slowest answers: dealt
    # in turn, every chunk gets its share of the slow ones, none more than a chunk's size.
    assert plans[0].chunks == [[flower, more[1]], [more[2], gitlab], [jenkins, more[0]]]
    assert scans.scan_abandon(plans[0].scan, lock_token=plans[0].lock_token)["abandoned"]


def test_a_scan_of_one_chunk_or_by_the_command_runs_in_one_task(checks, settings):
    settings.HEALTH_SCAN_CHUNK_SIZE = 3
    assert tasks.refresh_health.apply().result["checked"] == 3
    settings.HEALTH_SCAN_CHUNK_SIZE = 1
    out = StringIO()
    call_command("refresh_health", stdout=out)
    assert json.loads(out.getvalue())["checked"] == 3
    assert list(Scan.objects.values_list("state", flat=True)) == ["finished", "finished"]


def test_the_finishing_task_reads_its_checks_once_and_leaves_out_one_deleted_meanwhile(checks):
    assert scan_lock().acquire(blocking=False, token="chunked-scan")
    scan = Scan.objects.create(task_id="chunked")
    rows = [
        [[checks["gitlab"].pk, "up", 5.0, "HTTP 200"]],
        [[checks["jenkins"].pk, "up", 9.0, "HTTP 200"], [checks["flower"].pk, "down", None, "x"]],
    ]
    checks["flower"].delete()
    with CaptureQueriesContext(connection) as queries:
        summary = scans.scan_finish(scan.pk, rows, lock_token="chunked-scan")
    assert (summary["checked"], summary["up"]) == (2, 2)
    table = HealthCheck._meta.db_table
    reads = [
        q["sql"] for q in queries if q["sql"].startswith("SELECT") and f'FROM "{table}"' in q["sql"]
    ]
    assert len(reads) == 1  # locked, with each check's maintenance, as it is recorded
    assert set(CheckResult.objects.values_list("health_check__slug", flat=True)) == {
        "gitlab-ok",
        "jenkins-slow",
    }
    assert scan_lock().acquire(blocking=False)


def test_a_chunk_that_waited_past_the_deadline_reports_its_checks_cut(checks):
    rows = scans.probe_chunk([checks["gitlab"].pk], probe_until=time.time() - 1)
    assert rows == [[checks["gitlab"].pk, "down", None, "cut at the scan deadline (0 s)"]]


def test_a_failed_chunk_abandons_its_scan_and_frees_the_lock(checks):
    lock = scan_lock()
    assert lock.acquire(blocking=False, token="chunked-scan")
    scan = Scan.objects.create(task_id="chunked")
    assert tasks.abandon_scan.apply((scan.pk, "chunked-scan", [])).result == {
        "scan": scan.pk,
        "abandoned": True,
    }
    scan.refresh_from_db()
    assert (scan.state, scan.finished_at) == ("abandoned", None)
    assert not CheckResult.objects.exists()
    assert scan_lock().acquire(blocking=False)
