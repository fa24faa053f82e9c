"""The outbox: the one way work that follows a committed change reaches Celery.

A change that asks for work after it (a member's notice, the admins' "someone is waiting",
a workspace operation, a usage measurement) calls `queue_after_commit` inside its
transaction: the tasks are written as `OutboxTask` rows with the change, or not at all.
Once the transaction commits they are handed to the broker at once; when the broker is
away that fails fast, the rows wait, and the `outbox` beat task (`send`, every
OUTBOX_INTERVAL seconds) sends them when it is back. A decision is never lost, and the
request that made it answers.

Every send claims its rows first with a conditional UPDATE, so the commit's send and a
beat (or two beats) never hand the same row over twice. A sender that dies between the
broker's acceptance and marking the row sent leaves it to be sent again after
CLAIM_SECONDS, so the tasks must be idempotent: workspace operations claim their rows, and
e-mails run under `first_delivery`.

This module knows nothing of the tasks it carries; it lives in accounts beside its model.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from aixops.celery import app, broker_connection

from .models import OutboxTask

log = logging.getLogger(__name__)

# A claim older than this belongs to a sender that died; the next sweep takes the row over.
CLAIM_SECONDS = 60
# Sent rows are kept this long, for an operator to see what went out, then forgotten.
KEEP_SENT = timedelta(days=7)


@dataclass(frozen=True)
class Job:
    """One task to send: its registered name, its (JSON) arguments, and the task id it
    goes out with (given when the caller shows it somewhere first, e.g. a Flower link)."""

    task: str
    args: list
    task_id: str = field(default_factory=lambda: str(uuid.uuid4()))


def queue_after_commit(jobs: Iterable[Job]) -> None:
    """Write the jobs in the current transaction; send them once it commits."""
    rows = OutboxTask.objects.bulk_create(
        OutboxTask(task=job.task, args=list(job.args), task_id=job.task_id) for job in jobs
    )
    if rows:
        ids = [row.pk for row in rows]
        transaction.on_commit(lambda: send(ids))


def send(ids: list[int] | None = None) -> dict:
    """Hand the given waiting tasks (every waiting one when None) to the broker.

    Never raises for an unreachable broker: the rows keep waiting with the error, for the
    next sweep. Returns what it did: `sent`, and `waiting` (claimed but not sent).
    Queries: one UPDATE to claim, one SELECT, one UPDATE each for the sent and the unsent.
    """
    now = timezone.now()  # doubles as the claim marker: microsecond-unique per call
    free = Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - timedelta(seconds=CLAIM_SECONDS))
    waiting = OutboxTask.objects.filter(free, sent_at__isnull=True)
    if ids is not None:
        waiting = waiting.filter(pk__in=ids)
    if not waiting.update(claimed_at=now, attempts=F("attempts") + 1):
        return {"sent": 0, "waiting": 0}
    claimed = list(OutboxTask.objects.filter(claimed_at=now, sent_at__isnull=True).order_by("pk"))
    if app.conf.task_always_eager:
        # No broker: the tasks run here and now, and their errors are the caller's. Run by
        # their objects, which eager mode needs: the task modules are imported first.
        _mark_sent([row.pk for row in claimed])
        app.loader.import_default_modules()
        for row in claimed:
            app.tasks[row.task].apply_async(row.args, task_id=row.task_id)
        return {"sent": len(claimed), "waiting": 0}
    sent: list[int] = []
    try:
        with broker_connection() as connection:
            for row in claimed:
                app.send_task(
                    row.task, row.args, task_id=row.task_id, connection=connection, retry=False
                )
                sent.append(row.pk)
    except Exception as error:  # kombu raises several types for an unreachable broker
        log.warning("outbox: %d task(s) left waiting: %s", len(claimed) - len(sent), error)
        unsent = OutboxTask.objects.filter(claimed_at=now, sent_at__isnull=True)
        unsent.exclude(pk__in=sent).update(
            claimed_at=None, last_error=str(error)[:2000] or repr(error)
        )
    finally:
        _mark_sent(sent)
    return {"sent": len(sent), "waiting": len(claimed) - len(sent)}


def _mark_sent(ids: list[int]) -> None:
    if ids:
        OutboxTask.objects.filter(pk__in=ids).update(
            sent_at=timezone.now(), claimed_at=None, last_error=""
        )


def unsent_since(moment: datetime) -> int:
    """How many tasks written since `moment` could not be sent (the broker was away):
    what a page that just made them tells its reader is waiting."""
    return (
        OutboxTask.objects.filter(created_at__gte=moment, sent_at__isnull=True)
        .exclude(last_error="")
        .count()
    )


@contextmanager
def first_delivery(task_id: str) -> Iterator[bool]:
    """Whether this is the first delivery of the outbox task sent as `task_id`: a task
    that must not run twice (an e-mail) does its work only when it is.

    The first delivery marks the row started; a second one (sent twice, or redelivered by
    the broker) finds it marked. If the work fails, the mark is taken back so that the
    task's own retry runs it again. A task id the outbox never sent counts as a first.
    """
    now = timezone.now()
    rows = OutboxTask.objects.filter(task_id=task_id)
    first = bool(rows.filter(started_at__isnull=True).update(started_at=now))
    try:
        yield first or not rows.exists()
    except BaseException:
        if first:
            rows.filter(started_at=now).update(started_at=None)
        raise


def prune(*, now: datetime | None = None) -> int:
    """Forget the tasks sent more than KEEP_SENT ago; returns how many."""
    now = now or timezone.now()
    deleted, _ = OutboxTask.objects.filter(sent_at__lt=now - KEEP_SENT).delete()
    return deleted
