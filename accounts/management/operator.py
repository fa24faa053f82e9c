"""What the `members` and `workspaces` commands share: naming people, reporting results."""

from datetime import datetime

from django.core.management.base import CommandError

from accounts.models import User
from aixops import outbox
from aixops.transitions import TransitionResult


def user_ids(usernames: list[str]) -> dict[str, int]:
    """{username: pk} for every name given; any unknown name stops the command."""
    found = dict(User.objects.filter(username__in=usernames).values_list("username", "pk"))
    missing = [name for name in usernames if name not in found]
    if missing:
        raise CommandError(f"No such user: {', '.join(missing)}")
    return found


def actor(username: str | None) -> User | None:
    """The admin to record as the actor (--by), or None for the command itself."""
    if not username:
        return None
    user = User.objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"No such user: {username}")
    return user


def report(
    stdout, result: TransitionResult, names: dict[int, str], done: str, *, since: datetime
) -> None:
    """One line per outcome: moved, already there, refused by their state; and one for the
    work that followed the change since `since` if it waits for the broker."""
    for label, ids in (
        (done, result.changed),
        ("already done", result.unchanged),
        ("not allowed from their state", result.refused),
    ):
        if ids:
            stdout.write(f"{label}: {', '.join(sorted(names[pk] for pk in ids))}")
    waiting = outbox.unsent_since(since)
    if waiting:
        stdout.write(
            f"waiting: the broker is unreachable; {waiting} task(s) will be sent when it is back"
        )
