"""Personal API tokens from the shell, for operators and the scripts they set up; the
same issue() and revoke() as the member's own page.

python manage.py api_tokens create USERNAME --name NAME [--expires-days N]
python manage.py api_tokens list [USERNAME]
python manage.py api_tokens revoke ID|PREFIX
"""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.management import operator
from accounts.models import ApiToken, ApiTokenError

ACTOR = "manage.py api_tokens"


def when(moment) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}" if moment else "-"


class Command(BaseCommand):
    help = "Create, list or revoke personal API tokens."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="command", required=True)
        create = sub.add_parser("create", help="make a token; its secret is the last line")
        create.add_argument("username")
        create.add_argument("--name", required=True, help="what the token is for")
        create.add_argument(
            "--expires-days", type=int, default=None, help="days until it stops working"
        )
        listing = sub.add_parser("list", help="list tokens (never their secrets)")
        listing.add_argument("username", nargs="?", default=None)
        revoke = sub.add_parser("revoke", help="revoke a token by its id or its prefix")
        revoke.add_argument("token", metavar="ID|PREFIX")

    def handle(self, *args, command: str, **options):
        getattr(self, command)(**options)

    def create(self, *, username: str, name: str, expires_days: int | None, **_options):
        owner = operator.actor(username)
        try:
            token, secret = ApiToken.objects.issue(
                owner=owner, name=name, expires_in_days=expires_days, by=None, actor_name=ACTOR
            )
        except ApiTokenError as exc:
            raise CommandError(str(exc)) from None
        self.stderr.write(
            f"token {token.pk} {token.prefix}… {token.name!r} for {owner.username}, "
            f"expires {when(token.expires_at) if token.expires_at else 'never'}; "
            "the secret follows, shown only now:"
        )
        self.stdout.write(secret)

    def list(self, *, username: str | None, **_options):
        tokens = ApiToken.objects.select_related("owner").order_by("owner__username", "pk")
        if username:
            tokens = tokens.filter(owner=operator.actor(username))
        now = timezone.now()
        tokens = list(tokens)
        for token in tokens:
            state = (
                "revoked"
                if token.revoked_at
                else "usable"
                if token.is_usable(now=now)
                else "expired"
            )
            self.stdout.write(
                "\t".join(
                    [
                        str(token.pk),
                        token.prefix,
                        token.owner.username,
                        token.name,
                        state,
                        f"created {when(token.created_at)}",
                        f"expires {when(token.expires_at)}",
                        f"last used {when(token.last_used_at)}",
                    ]
                )
            )
        self.stdout.write(f"{len(tokens)} token(s)")

    def revoke(self, *, token: str, **_options):
        found = ApiToken.objects.filter(
            pk=int(token) if token.isdigit() else None
        ) | ApiToken.objects.filter(prefix=token)
        found = list(found[:2])
        if not found:
            raise CommandError(f"No token with the id or prefix {token!r}.")
        if len(found) > 1:
            raise CommandError(f"{token!r} names more than one token; use its id.")
        (chosen,) = found
        if chosen.revoke(by=None, actor_name=ACTOR):
            self.stdout.write(f"revoked: {chosen}")
        else:
            self.stdout.write(f"already revoked: {chosen}")
