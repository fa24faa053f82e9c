"""Long health history: rolling raw results up per check and day, and reading uptime
over 30 or 90 days from the rollups.

The rollup job (`rollups_build`, beat runs it hourly) recounts whole days, from the day
before the last one it rolled up to today, and upserts them: running it twice, or late,
or after a worker was away for days, gives the same rows. Today's row grows through the
day; yesterday's is recounted once more so that results written around midnight count.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Count, Max, Min, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from .models import CheckResult, HealthRollup, HealthStatus


def rollups_build(*, now: datetime | None = None) -> dict:
    """Count each check's results (and its down ones) per day, from the day before the
    last rolled-up one (or the first result) to today; one GROUP BY and one upsert."""
    now = now or timezone.now()
    zone = timezone.get_default_timezone()
    latest = HealthRollup.objects.aggregate(day=Max("day"))["day"]
    if latest is None:
        first = CheckResult.objects.aggregate(at=Min("checked_at"))["at"]
        if first is None:
            return {"days": 0, "rollups": 0}
        start = timezone.localtime(first, zone).date()
    else:
        start = latest - timedelta(days=1)
    since = datetime.combine(start, datetime.min.time(), tzinfo=zone)
    rows = (
        CheckResult.objects.filter(checked_at__gte=since, checked_at__lte=now)
        .annotate(day=TruncDate("checked_at", tzinfo=zone))
        .order_by()
        .values("health_check_id", "day")
        .annotate(total=Count("pk"), down=Count("pk", filter=Q(status=HealthStatus.DOWN)))
    )
    rollups = [HealthRollup(**row) for row in rows]
    HealthRollup.objects.bulk_create(
        rollups,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["health_check", "day"],
        update_fields=["total", "down"],
    )
    days = (timezone.localtime(now, zone).date() - start).days + 1
    return {"days": days, "rollups": len(rollups), "since": start.isoformat()}


def rollups_prune(*, now: datetime | None = None) -> dict:
    """Forget rollups older than HEALTH_ROLLUP_RETENTION_DAYS."""
    today = timezone.localdate(now or timezone.now())
    cutoff = today - timedelta(days=settings.HEALTH_ROLLUP_RETENTION_DAYS)
    deleted, _ = HealthRollup.objects.filter(day__lt=cutoff).delete()
    return {"rollups_deleted": deleted, "rollups_before": cutoff.isoformat()}


def uptime_over(days: int, *, today: date | None = None) -> dict[int, float]:
    """Each check's uptime (percent of results not down) over the last `days` days,
    today included, from the rollups: one GROUP BY over a row per check and day."""
    today = today or timezone.localdate()
    rows = (
        HealthRollup.objects.filter(day__gt=today - timedelta(days=days), day__lte=today)
        .order_by()
        .values("health_check_id")
        .annotate(total=Sum("total"), down=Sum("down"))
    )
    return {
        row["health_check_id"]: round(100 * (row["total"] - row["down"]) / row["total"], 2)
        for row in rows
        if row["total"]
    }
