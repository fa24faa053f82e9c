"""Create (once) the embedded setup's local admin account and print its credentials."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the local admin account of the embedded setup if missing, and print it."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="local-admin")

    def handle(self, *args, username: str, **options):
        credentials_file = settings.DATA_DIR / "local-admin.txt"
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None or not credentials_file.exists():
            password = secrets.token_urlsafe(12)
            if user is None:
                User.objects.create_superuser(username=username, password=password, email="")
            else:
                user.set_password(password)
                user.save(update_fields=["password"])
            credentials_file.parent.mkdir(parents=True, exist_ok=True)
            credentials_file.write_text(f"{username}\n{password}\n")
            credentials_file.chmod(0o600)
        username, password = credentials_file.read_text().split()[:2]
        self.stdout.write(f"Local admin account: {username} / {password}")
