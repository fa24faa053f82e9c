"""Operator commands for member approval; they call the same transitions as the admin UI.

python manage.py members pending
python manage.py members approve USERNAME...
python manage.py members reject USERNAME... --reason TEXT
python manage.py members suspend USERNAME... [--reason TEXT]
python manage.py members reinstate USERNAME...
"""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.management import operator
from accounts.models import MembershipError, User

PAST = {
    "approve": "approved",
    "reject": "rejected",
    "suspend": "suspended",
    "reinstate": "reinstated",
}
TRANSITIONS = {
    "approve": User.APPROVE,
    "reject": User.REJECT,
    "suspend": User.SUSPEND,
    "reinstate": User.REINSTATE,
}


class Command(BaseCommand):
    help = "List pending members, or approve, reject, suspend or reinstate members by username."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="command", required=True)
        sub.add_parser("pending", help="list the members waiting for approval")
        for name in TRANSITIONS:
            p = sub.add_parser(name, help=f"{name} members")
            p.add_argument("usernames", nargs="+", metavar="USERNAME")
            p.add_argument("--reason", default="", help="why (required for reject)")
            p.add_argument("--by", default=None, help="the admin to record as the actor")

    def handle(self, *args, command: str, **options):
        if command == "pending":
            pending = User.objects.filter(membership=User.Membership.PENDING).order_by(
                "date_joined"
            )
            for member in pending:
                self.stdout.write(
                    f"{member.username}\t{member.email or '-'}\t{member.date_joined:%Y-%m-%d %H:%M}"
                )
            self.stdout.write(f"{len(pending)} pending")
            return
        since = timezone.now()
        usernames = options["usernames"]
        found = operator.user_ids(usernames)
        by = operator.actor(options["by"])
        try:
            result = User.objects.transition(
                [found[u] for u in usernames],
                TRANSITIONS[command],
                by=by,
                reason=options["reason"],
                actor_name=by.username if by else "manage.py members",
            )
        except MembershipError as exc:
            raise CommandError(str(exc)) from None
        names = {pk: name for name, pk in found.items()}
        operator.report(self.stdout, result, names, PAST[command], since=since)
        if result.refused:
            raise CommandError(f"{len(result.refused)} member(s) could not be {PAST[command]}.")
