"""The embedded setup's local admin account is made once and its credentials printed."""

from io import StringIO

from django.contrib.auth import authenticate
from django.core.management import call_command

from accounts.models import User


def run(settings, tmp_path) -> str:
    settings.DATA_DIR = tmp_path
    out = StringIO()
    call_command("ensure_local_admin", stdout=out)
    return out.getvalue()


def test_creates_a_superuser_and_prints_working_credentials(db, settings, tmp_path):
    output = run(settings, tmp_path)
    username, password = output.strip().rsplit(": ", 1)[1].split(" / ")
    assert username == "local-admin"
    user = authenticate(username=username, password=password)
    assert user is not None and user.is_superuser and user.is_staff
    assert (tmp_path / "local-admin.txt").stat().st_mode & 0o777 == 0o600


def test_running_twice_keeps_the_same_account_and_password(db, settings, tmp_path):
    first = run(settings, tmp_path)
    second = run(settings, tmp_path)
    assert first == second
    assert User.objects.filter(username="local-admin").count() == 1


def test_user_model_has_a_unique_optional_oidc_subject(db):
    User.objects.create_user(username="local")
    User.objects.create_user(username="another-local")
    sso = User.objects.create_user(username="sso", oidc_subject="0b6e4c1e-uuid")
    assert User.objects.get(oidc_subject="0b6e4c1e-uuid") == sso
    assert User.objects.filter(oidc_subject__isnull=True).count() == 2
