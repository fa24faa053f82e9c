"""The member's own workspace page."""

from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from accounts.access import member_required
from aixops.networks import client_ip

from .models import Workspace


@require_safe
@member_required
def my_workspace(request):
    """The member's workspace: status, usage against quota, where to open it; or the button
    to request one. Three queries: the signed-in user, the workspace, and the categories
    the top bar links."""
    workspace = Workspace.objects.current_for(request.user)
    can_request = workspace is None or workspace.status == Workspace.Status.DELETED
    return render(
        request,
        "workspaces/workspace.html",
        {"workspace": workspace, "can_request": can_request},
    )


@require_POST
@member_required
def start_workspace(request):
    """The start button of a workspace whose server the idle policy stopped (nothing
    happens otherwise)."""
    workspace = Workspace.objects.current_for(request.user)
    if workspace is not None:
        Workspace.objects.start([workspace.pk], by=request.user, ip=client_ip(request))
    return redirect("workspaces:mine")


@require_POST
@member_required
def request_workspace(request):
    """The request button: asks for a workspace (nothing happens if there is one)."""
    Workspace.objects.request([request.user.pk], by=request.user, ip=client_ip(request))
    return redirect("workspaces:mine")
