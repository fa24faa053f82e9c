"""Run one health scan in this process and print its summary (no worker needed)."""

import json

import redis
from django.core.management.base import BaseCommand, CommandError

from portal.scans import scan_run


class Command(BaseCommand):
    help = "Probe every enabled health check once, in-process, and print the scan's summary."

    def handle(self, *args, **options):
        try:
            summary = scan_run(task_id="")
        except redis.RedisError as error:
            raise CommandError(
                f"Cannot reach Redis for the scan lock (HEALTH_LOCK_URL): {error}"
            ) from error
        self.stdout.write(json.dumps(summary))
