"""Prometheus figures about people: members by membership state.

Read from the database at scrape time, so every gunicorn worker reports the same totals.
"""

from aixops.metrics import counted_by

from .models import User


class AccountsCollector:
    def collect(self):
        yield counted_by(
            "aixops_members",
            "Portal members by membership state.",
            User.objects,
            "membership",
            User.Membership.values,
            label="state",
        )
