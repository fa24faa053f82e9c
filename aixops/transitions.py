"""The one way a state machine's rows move: a race-safe bulk claim.

Members (accounts) and workspaces (workspaces) both move through named transitions, one
row or a thousand at a time, from the admin, a command, a task or a page. `claim` is the
part they share: which of the given rows may move, moving exactly those with one
conditional UPDATE, and telling the rest apart (already there, or not allowed). What a
move means beyond its state (the audit event, the work it queues) is the caller's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import models, transaction
from django.utils import timezone


class TransitionError(Exception):
    """A transition that a row's current state does not allow; the message says why."""


@dataclass(frozen=True)
class Transition:
    """One move: its audit action, the states it starts from, the state it ends in, the
    states that mean "already done" (by default, the state it ends in), and whether whoever
    makes it must say why."""

    action: str
    sources: tuple[str, ...]
    target: str
    done: tuple[str, ...] = ()
    reason_required: bool = False

    @property
    def done_states(self) -> tuple[str, ...]:
        return self.done or (self.target,)


@dataclass
class TransitionResult:
    """What a (bulk) transition did: the rows it moved and the ones it did not."""

    changed: list[int]
    unchanged: list[int]  # already done: a second click, or another admin won
    refused: list[int]  # in a state (or a condition) the transition does not start from

    @classmethod
    def nothing(cls) -> TransitionResult:
        return cls([], [], [])


def claim(
    rows: models.QuerySet,
    ids: Iterable[int],
    transition: Transition,
    *,
    state: str,
    marker: str,
    allowed: models.Q | None = None,
    changes: dict | None = None,
) -> TransitionResult:
    """Move the rows of `rows` with the given ids from `transition.sources` to its target.

    `state` names the state field; `marker` a timestamp field the UPDATE sets to now, which
    tells this call's rows apart when another writer races it; `allowed` is a further
    condition a row must meet to move (it may follow relations); `changes` are other
    fields to set with the move. Must run inside the caller's transaction, so that what the
    caller writes about the moved rows (audit, outbox) commits with them.

    Queries, whatever the number of rows: one locking SELECT and one UPDATE, plus one
    SELECT only when a concurrent writer took some of the rows in between.
    """
    if not transaction.get_connection(rows.db).in_atomic_block:
        raise RuntimeError("claim() must run inside a transaction (transaction.atomic).")
    ids = list(dict.fromkeys(ids))
    if not ids:
        return TransitionResult.nothing()
    movable = models.Q(**{f"{state}__in": transition.sources})
    if allowed is not None:
        movable &= allowed
    # FOR UPDATE: on PostgreSQL a second writer moving the same rows waits here until the
    # first commits, then sees the new state and does nothing. SQLite ignores it; there the
    # UPDATE's condition below is what keeps the claim single.
    current = {
        pk: (current_state, may_move)
        for pk, current_state, may_move in rows.select_for_update()
        .filter(pk__in=ids)
        .annotate(may_move=models.ExpressionWrapper(movable, output_field=models.BooleanField()))
        .values_list("pk", state, "may_move")
    }
    candidates = [pk for pk in ids if pk in current and current[pk][1]]
    unchanged = [
        pk
        for pk in ids
        if pk in current and pk not in candidates and current[pk][0] in transition.done_states
    ]
    refused = [pk for pk in ids if pk not in candidates and pk not in unchanged]
    if not candidates:
        return TransitionResult(changed=[], unchanged=unchanged, refused=refused)
    now = timezone.now()  # the claim marker: microsecond-unique per call
    count = (
        rows.filter(movable, pk__in=candidates)
        .order_by()
        .update(**{state: transition.target, marker: now}, **(changes or {}))
    )
    if count == len(candidates):
        changed = candidates
    else:  # another writer moved some of them between our SELECT and UPDATE
        changed = list(
            rows.filter(
                pk__in=candidates, **{state: transition.target, marker: now}
            ).values_list("pk", flat=True)
        )
        unchanged += [pk for pk in candidates if pk not in changed]
    return TransitionResult(changed=changed, unchanged=unchanged, refused=refused)
