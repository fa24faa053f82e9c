"""Work on members that spans models or leaves the process: sign-in from Keycloak claims,
automatic approval, and the e-mails that follow a transition (the transitions themselves
are User's methods, accounts.models)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.mail import send_mass_mail
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import translation

from aixops.outbox import Job, queue_after_commit
from audit.models import AuditEvent, record

from .models import User
from .permissions import admin_group

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identity:
    """What the identity provider says about a person, already verified and policy-filtered."""

    subject: str
    username: str
    email: str = ""
    email_verified: bool = False
    first_name: str = ""
    last_name: str = ""
    roles: frozenset[str] = field(default_factory=frozenset)
    groups: frozenset[str] = field(default_factory=frozenset)
    language: str = ""  # one of LANGUAGES, from the `locale` claim; "" when it names none


def supported_language(code: object) -> str:
    """The portal's language for a language tag (`en`, `en-US`, `ko-KR`), or "" when the
    portal has none for it (or it is no tag at all)."""
    if not isinstance(code, str) or not code:
        return ""
    try:
        return translation.get_supported_language_variant(code.replace("_", "-").lower())
    except LookupError:
        return ""


def auto_approval_reason(identity: Identity) -> str | None:
    """Why the rules in MEMBER_AUTO_APPROVE_* let this person in at once, or None."""
    for role in sorted(identity.roles & set(settings.MEMBER_AUTO_APPROVE_ROLES)):
        return f"role {role}"
    for group in sorted(identity.groups & set(settings.MEMBER_AUTO_APPROVE_GROUPS)):
        return f"group {group}"
    # An unverified address proves nothing about its domain.
    if identity.email and identity.email_verified:
        domain = identity.email.rsplit("@", 1)[-1].lower()
        if domain in {d.lower() for d in settings.MEMBER_AUTO_APPROVE_EMAIL_DOMAINS}:
            return f"e-mail domain {domain}"
    return None


def _free_username(wanted: str, subject: str, *, exclude_pk: int | None) -> str:
    """`wanted` if no other account has it, else `wanted.<first 8 of sub>` (a local
    break-glass `admin` and Keycloak's `admin` are different people)."""
    wanted = (wanted or subject)[:150]
    taken = User.objects.filter(username=wanted).exclude(pk=exclude_pk).exists()
    return f"{wanted[:141]}.{subject[:8]}" if taken else wanted


def sign_in_member(*, identity: Identity, ip: str | None) -> User:
    """Find the member by subject (never by e-mail), create them `pending` the first time,
    and copy profile, staff/superuser flags and groups from the claims at every sign-in."""
    is_staff = bool(identity.roles & set(settings.OIDC_ADMIN_ROLES))
    is_superuser = bool(identity.roles & set(settings.OIDC_SUPERUSER_ROLES))
    with transaction.atomic():
        user = User.objects.select_for_update().filter(oidc_subject=identity.subject).first()
        created = user is None
        if created:
            user = User(oidc_subject=identity.subject, membership=User.Membership.PENDING)
            user.set_unusable_password()  # Keycloak owns the password
        renamed = created or user.username != identity.username
        if renamed:
            user.username = _free_username(identity.username, identity.subject, exclude_pk=user.pk)
        profile = {
            "email": identity.email,
            "first_name": identity.first_name[:150],
            "last_name": identity.last_name[:150],
            "is_staff": is_staff or is_superuser,
            "is_superuser": is_superuser,
        }
        if identity.language:  # Keycloak sends `locale` only for someone who picked one
            profile["language"] = identity.language
        changed = [name for name, value in profile.items() if getattr(user, name) != value]
        for name in changed:
            setattr(user, name, profile[name])
        if created:
            user.save()
        elif changed or renamed:
            # Most sign-ins change nothing: no UPDATE then (the callback's time budget).
            user.save(update_fields=[*changed, "username"])
        _sync_groups(user, identity.groups, created=created, admin=user.is_staff)
        if created:
            record(AuditEvent.Action.SIGN_UP, [user.pk], by=user, ip=ip)
        if user.membership == User.Membership.PENDING:
            reason = auto_approval_reason(identity)
            if reason:
                user.approve(by=None, reason=f"auto-approval: {reason}", ip=ip, automatic=True)
            elif created:
                queue_after_commit([Job("accounts.tasks.notify_admins", [user.pk])])
    return user


def _sync_groups(user: User, names: Iterable[str], *, created: bool, admin: bool) -> None:
    """Make the user's Keycloak groups (full paths, `/…`) exactly `names`, and membership of
    the portal's admin group follow the admin role. Other groups an admin gave in the portal
    are left alone."""
    wanted = {name[:150] for name in names if name.startswith("/")}
    managed = Q(name__startswith="/") | Q(name=settings.OIDC_ADMIN_GROUP)
    current = set() if created else set(user.groups.filter(managed).values_list("name", flat=True))
    if admin:
        wanted.add(admin_group().name)
    if wanted == current:
        return
    if current - wanted:
        user.groups.remove(*Group.objects.filter(name__in=current - wanted))
    if wanted - current:
        Group.objects.bulk_create(
            [Group(name=name) for name in wanted - current], ignore_conflicts=True
        )
        user.groups.add(*Group.objects.filter(name__in=wanted - current))


def remember_language(user: User, language: str) -> None:
    """Write to `user` in `language` from now on (their pick in the language switch)."""
    language = supported_language(language)
    if language and language != user.language:
        User.objects.filter(pk=user.pk).update(language=language)
        user.language = language


def send_member_notices(*, action: str, ids: list[int], reason: str) -> int:
    """E-mail each member (with an address) that they were approved or rejected, each in
    their own language."""
    subject_template = f"accounts/email/{action}_subject.txt"
    body_template = f"accounts/email/{action}_body.txt"
    messages = []
    members = User.objects.filter(pk__in=ids).exclude(email="")
    for member in members.only("username", "email", "language"):
        context = {"member": member, "reason": reason, "portal_url": settings.PORTAL_URL}
        with translation.override(member.email_language):
            subject = render_to_string(subject_template, context).strip()
            body = render_to_string(body_template, context)
        messages.append((subject, body, None, [member.email]))
    return send_mass_mail(messages, fail_silently=False) if messages else 0


def send_pending_notice(*, user_id: int) -> int:
    """E-mail the approving admins that someone is waiting: one message per language, to
    the admins who read it."""
    member = User.objects.filter(pk=user_id, membership=User.Membership.PENDING).first()
    if member is None:  # approved (or gone) before the mail went out: nothing to say
        return 0
    admins = (
        User.objects.filter(is_staff=True, is_active=True, membership=User.Membership.APPROVED)
        .exclude(email="")
        .only("email", "language")
    )
    by_language: dict[str, list[str]] = {}
    for admin in admins:
        by_language.setdefault(admin.email_language, []).append(admin.email)
    context = {"member": member, "portal_url": settings.PORTAL_URL}
    messages = []
    for language, recipients in sorted(by_language.items()):
        with translation.override(language):
            subject = render_to_string("accounts/email/pending_subject.txt", context).strip()
            body = render_to_string("accounts/email/pending_body.txt", context)
        messages.append((subject, body, None, recipients))
    return send_mass_mail(messages, fail_silently=False) if messages else 0
