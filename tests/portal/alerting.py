"""Helpers of the alert and incident tests (their fixtures are in conftest.py)."""

import hashlib
import hmac

from portal.models import DataStore, HealthCheck, Service

# The default webhook channel's signing secret (the `default_channels` fixture).
SECRET = "webhook-secret"


def check_for(owner_slug, target, *, kind="http", **fields):
    owner = Service.objects.filter(slug=owner_slug).first()
    store = None if owner else DataStore.objects.get(slug=owner_slug)
    return HealthCheck.objects.create(
        slug=f"{owner_slug}-check",
        service=owner,
        data_store=store,
        kind=kind,
        target=target,
        **fields,
    )


def signed_correctly(headers: dict, body: bytes) -> bool:
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers.get("x-aixops-signature", ""), expected)
