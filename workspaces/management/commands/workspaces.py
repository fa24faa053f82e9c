"""Operator commands for members' workspaces; they call the same operations as the Admin UI.

python manage.py workspaces list [--status STATUS] [--over-quota]
python manage.py workspaces request USERNAME...
python manage.py workspaces provision USERNAME...
python manage.py workspaces suspend USERNAME... [--reason TEXT]
python manage.py workspaces resume USERNAME...
python manage.py workspaces delete USERNAME... [--reason TEXT]
python manage.py workspaces retry USERNAME...
python manage.py workspaces quota USERNAME... --gib N

The operations queue Celery tasks: a worker does the backend's part (or, with
CELERY_TASK_ALWAYS_EAGER, this process does).
"""

from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from accounts.management import operator
from workspaces.models import Workspace, WorkspaceError

OPERATIONS = {
    "provision": Workspace.objects.provision,
    "suspend": Workspace.objects.suspend,
    "resume": Workspace.objects.resume,
    "delete": Workspace.objects.delete_workspaces,
    "retry": Workspace.objects.retry,
}


class Command(BaseCommand):
    help = "List workspaces, or request, provision, suspend, resume, delete or retry them."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="command", required=True)
        listing = sub.add_parser("list", help="list workspaces (deleted ones with --status)")
        listing.add_argument("--status", choices=Workspace.Status.values)
        listing.add_argument("--over-quota", action="store_true")
        for name in ["request", *OPERATIONS, "quota"]:
            p = sub.add_parser(name, help=f"{name} members' workspaces")
            p.add_argument("usernames", nargs="+", metavar="USERNAME")
            p.add_argument("--reason", default="", help="why (kept in the audit log)")
            p.add_argument("--by", default=None, help="the admin to record as the actor")
            if name == "quota":
                p.add_argument("--gib", type=int, required=True, help="storage quota in GiB")

    def handle(self, *args, command: str, **options):
        if command == "list":
            return self._list(options["status"], options["over_quota"])
        since = timezone.now()
        usernames = options["usernames"]
        users = operator.user_ids(usernames)
        by = operator.actor(options["by"])
        common = {
            "by": by,
            "reason": options["reason"],
            "actor_name": by.username if by else "manage.py workspaces",
        }
        if command == "request":
            result = Workspace.objects.request(list(users.values()), **common)
            names = {pk: name for name, pk in users.items()}
        else:
            live = dict(
                Workspace.objects.live()
                .filter(owner_id__in=users.values())
                .values_list("owner__username", "pk")
            )
            without = [u for u in usernames if u not in live]
            if without:
                raise CommandError(f"No workspace: {', '.join(without)}")
            ids = [live[u] for u in usernames]
            names = {pk: name for name, pk in live.items()}
            try:
                if command == "quota":
                    result = Workspace.objects.change_quota(ids, quota_gib=options["gib"], **common)
                else:
                    result = OPERATIONS[command](ids, **common)
            except WorkspaceError as exc:
                raise CommandError(str(exc)) from None
        operator.report(self.stdout, result, names, f"{command}: done", since=since)
        if result.refused:
            raise CommandError(f"{len(result.refused)} workspace(s) refused {command}.")

    def _list(self, status: str | None, over_quota: bool) -> None:
        rows = Workspace.objects.select_related("owner").order_by("owner__username")
        rows = rows.filter(status=status) if status else rows.live()
        if over_quota:
            rows = rows.over_quota()
        for w in rows:
            usage = "-" if w.usage_bytes is None else filesizeformat(w.usage_bytes)
            flag = "\tOVER QUOTA" if w.is_over_quota else ""
            self.stdout.write(
                f"{w.owner.username}\t{w.status}\t{usage} / {w.quota_gib} GiB\t"
                f"{w.location or '-'}{flag}"
            )
        self.stdout.write(f"{len(rows)} workspace(s)")
