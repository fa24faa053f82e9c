"""Count the results kept so far into hourly rollups, so that the cards' uptime and the
history carry on across the upgrade rather than start again from nothing."""

from datetime import UTC

from django.db import migrations
from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import TruncHour

STATUSES = ["up", "degraded", "down", "maintenance", "unknown"]


def results_into_rollups(apps, schema_editor):
    CheckResult = apps.get_model("portal", "CheckResult")
    HealthRollup = apps.get_model("portal", "HealthRollup")
    # Scans that ran since the rollups' table was made have counted theirs already.
    counted_from = HealthRollup.objects.order_by("hour").values_list("hour", flat=True).first()
    results = CheckResult.objects.all()
    if counted_from is not None:
        results = results.filter(checked_at__lt=counted_from)
    hours = (
        results.annotate(at=TruncHour("checked_at", tzinfo=UTC))
        .order_by()
        .values("health_check_id", "at")
        .annotate(
            **{status: Count("pk", filter=Q(status=status)) for status in STATUSES},
            latency_count=Count("latency_ms"),
            latency_sum_ms=Sum("latency_ms"),
            latency_max_ms=Max("latency_ms"),
        )
    )
    batch = []
    for row in hours.iterator(chunk_size=5000):
        row["hour"] = row.pop("at")
        row["latency_sum_ms"] = row["latency_sum_ms"] or 0.0
        batch.append(HealthRollup(hours=1, **row))
        if len(batch) == 5000:
            HealthRollup.objects.bulk_create(batch)
            batch = []
    HealthRollup.objects.bulk_create(batch)


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0008_health_rollups_short_raw_retention"),
    ]

    operations = [
        migrations.RunPython(results_into_rollups, migrations.RunPython.noop, elidable=True),
    ]
