"""Long health history: each check's results rolled up per day, kept for months."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from .health import HealthCheck


class HealthRollup(models.Model):
    """One check's results on one day (in TIME_ZONE): how many, and how many were down.

    Written by the rollup job (portal/history.py) from the raw results, which are pruned
    after HEALTH_RETENTION_DAYS; rollups stay HEALTH_ROLLUP_RETENTION_DAYS, so that 30-
    and 90-day uptime read a row a day instead of a result a minute. Maintenance and
    unsettled results count as up, as in the checks' 24 h and 7 d uptime.
    """

    health_check = models.ForeignKey(
        HealthCheck, on_delete=models.CASCADE, related_name="rollups", verbose_name=_("check")
    )
    day = models.DateField(_("day"))
    total = models.PositiveIntegerField(_("results"))
    down = models.PositiveIntegerField(_("down"))

    class Meta:
        ordering = ["-day", "health_check"]
        verbose_name = _("daily health rollup")
        verbose_name_plural = _("daily health rollups")
        constraints = [
            models.UniqueConstraint(fields=["health_check", "day"], name="rollup_one_per_day")
        ]
        indexes = [models.Index(fields=["day"], name="rollup_day")]

    def __str__(self) -> str:
        return f"{self.health_check_id} {self.day}: {self.down}/{self.total} down"

    @property
    def uptime(self) -> float | None:
        return round(100 * (self.total - self.down) / self.total, 2) if self.total else None
