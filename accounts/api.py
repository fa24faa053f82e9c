"""The staff API: the pending queue and the membership decisions (approve, reject,
suspend, reinstate) for operators' scripts. The same transitions, audit events and limits
as the admin UI: staff holding the admin's permissions, who leave superusers alone unless
they are superusers themselves (accounts.access)."""

from datetime import datetime

from django.utils import timezone
from ninja import Field, Path, Router, Schema

from aixops.api import REFUSALS, ApiError, InvalidInput, Refusal
from aixops.networks import client_ip
from aixops.transitions import Transition

from .access import ApiAccess, may_change_account
from .models import User

router = Router(tags=["members (staff)"])

DECIDE = ApiAccess(permission="accounts.change_user")
# A username as the URL carries it: one path segment.
USERNAME = Path(..., pattern=r"^[^/\x00]+$", max_length=150, examples=["carol"])


class PendingMember(Schema):
    username: str
    email: str
    first_name: str
    last_name: str
    date_joined: datetime
    groups: list[str]


class PendingList(Schema):
    members: list[PendingMember]


# Text a database column can hold (PostgreSQL refuses NUL), bounded.
TEXT = r"^[^\x00]*$"


class Reason(Schema):
    reason: str = Field("", max_length=2000, pattern=TEXT)


class RejectReason(Schema):
    reason: str = Field(
        ..., max_length=2000, pattern=r"^[^\x00]*\S[^\x00]*$", description="told to the member"
    )


class Decision(Schema):
    username: str
    membership: str
    changed: bool  # false: it was so already (a second call changes nothing)


class NotAllowed(Refusal):
    membership: str


@router.get(
    "/members/pending/",
    auth=ApiAccess(permission="accounts.view_pendingmember"),
    response={200: PendingList, **REFUSALS},
    url_name="api-members-pending",
    summary="Members waiting for approval, longest waiting first",
)
def pending(request):
    members = (
        User.objects.filter(membership=User.Membership.PENDING)
        .order_by("date_joined", "pk")
        .prefetch_related("groups")
    )
    return {
        "members": [
            {
                "username": member.username,
                "email": member.email,
                "first_name": member.first_name,
                "last_name": member.last_name,
                "date_joined": timezone.localtime(member.date_joined),
                "groups": sorted(group.name for group in member.groups.all()),
            }
            for member in members
        ]
    }


def decide(request, username: str, transition: Transition, reason: str = ""):
    """Move one member through `transition` as the admin's action does, by the caller."""
    member = User.objects.filter(username=username).first()
    if member is None:
        raise ApiError(404, {"error": "no such member"})
    if not may_change_account(request.user, member):
        raise ApiError(403, {"error": "only a superuser may change a superuser"})
    # The schema has made sure of a reason where the transition needs one.
    result = User.objects.transition(
        [member.pk], transition, by=request.user, reason=reason, ip=client_ip(request)
    )
    member.refresh_from_db(fields=["membership"])
    if result.refused:
        raise ApiError(
            409,
            {
                "error": f"cannot {transition.action} a {member.membership} member",
                "membership": member.membership,
            },
        )
    return {
        "username": member.username,
        "membership": member.membership,
        "changed": bool(result.changed),
    }


DECISION_RESPONSES = {
    200: Decision,
    400: Refusal,
    404: Refusal,
    409: NotAllowed,
    422: InvalidInput,
    **REFUSALS,
}


@router.post(
    "/members/{username}/approve/",
    auth=DECIDE,
    response=DECISION_RESPONSES,
    url_name="api-member-approve",
    summary="Approve a pending member",
)
def approve(request, username: str = USERNAME):
    return decide(request, username, User.APPROVE)


@router.post(
    "/members/{username}/reject/",
    auth=DECIDE,
    response=DECISION_RESPONSES,
    url_name="api-member-reject",
    summary="Reject a pending member, with the reason they are told",
)
def reject(request, username: str = USERNAME, body: RejectReason = ...):
    return decide(request, username, User.REJECT, body.reason)


@router.post(
    "/members/{username}/suspend/",
    auth=DECIDE,
    response=DECISION_RESPONSES,
    url_name="api-member-suspend",
    summary="Suspend an approved member (their tokens stop working at once)",
)
def suspend(request, username: str = USERNAME, body: Reason | None = None):
    return decide(request, username, User.SUSPEND, body.reason if body else "")


@router.post(
    "/members/{username}/reinstate/",
    auth=DECIDE,
    response=DECISION_RESPONSES,
    url_name="api-member-reinstate",
    summary="Reinstate a suspended member",
)
def reinstate(request, username: str = USERNAME):
    return decide(request, username, User.REINSTATE)
