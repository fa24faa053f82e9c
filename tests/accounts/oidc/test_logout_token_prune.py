"""Remembered logout-token ids are forgotten once their tokens could not be accepted anyway."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from accounts.models import LogoutTokenUse
from accounts.tasks import prune_logout_tokens


def test_old_token_ids_are_forgotten_and_recent_ones_kept(db):
    now = timezone.now()
    horizon = timedelta(seconds=settings.OIDC_LOGOUT_TOKEN_MAX_AGE + settings.OIDC_LEEWAY)
    LogoutTokenUse.objects.create(jti="old", seen_at=now - horizon - timedelta(minutes=1))
    LogoutTokenUse.objects.create(jti="recent", seen_at=now - horizon + timedelta(minutes=1))
    assert prune_logout_tokens.apply().get() == {"forgotten": 1}
    assert list(LogoutTokenUse.objects.values_list("jti", flat=True)) == ["recent"]


def test_pruning_is_scheduled_daily():
    entry = settings.CELERY_BEAT_SCHEDULE["prune-logout-tokens"]
    assert entry["task"] == "accounts.tasks.prune_logout_tokens"
