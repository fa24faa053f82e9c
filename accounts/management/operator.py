"""What the `members` and `workspaces` commands share: naming people, reporting results."""

from django.core.management.base import CommandError

from accounts.models import TransitionResult, User


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


def report(stdout, result: TransitionResult, names: dict[int, str], done: str) -> None:
    """One line per outcome: moved, already there, refused by their state."""
    for label, ids in (
        (done, result.changed),
        ("already done", result.unchanged),
        ("not allowed from their state", result.refused),
    ):
        if ids:
            stdout.write(f"{label}: {', '.join(sorted(names[pk] for pk in ids))}")
