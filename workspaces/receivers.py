"""Workspaces follow membership: accounts says what changed, this room decides what it
means for workspaces (workspaces.services.follow_membership)."""

from accounts.signals import membership_changed

from .services import follow_membership


def on_membership_changed(sender, *, action, ids, by, ip, **kwargs) -> None:
    follow_membership(action, ids, by=by, ip=ip)


def connect() -> None:
    membership_changed.connect(on_membership_changed, dispatch_uid="workspaces.membership")
