from django.db import migrations, models

from portal.sparklines import Sparkline


def draw_sparklines(apps, schema_editor):
    """Draw the sparkline of every check's latencies so far, as scans will from now on."""
    HealthCheck = apps.get_model("portal", "HealthCheck")
    checks = HealthCheck.objects.only("recent_latencies").order_by("pk")
    batch = []
    for check in checks.iterator(chunk_size=2000):
        sparkline = Sparkline.from_latencies(check.recent_latencies or [])
        if sparkline:
            check.sparkline_points, check.sparkline_peak_ms = sparkline.points, sparkline.peak_ms
            batch.append(check)
        if len(batch) == 2000:
            HealthCheck.objects.bulk_update(batch, ["sparkline_points", "sparkline_peak_ms"])
            batch = []
    HealthCheck.objects.bulk_update(batch, ["sparkline_points", "sparkline_peak_ms"])


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0013_rollup_running_totals"),
    ]

    operations = [
        migrations.AddField(
            model_name="healthcheck",
            name="sparkline_points",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        migrations.AddField(
            model_name="healthcheck",
            name="sparkline_peak_ms",
            field=models.FloatField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(draw_sparklines, migrations.RunPython.noop, elidable=True),
    ]
