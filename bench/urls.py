from django.http import HttpResponse
from django.template import engines
from django.urls import include, path

from accounts.access import member_required

SIGNED_IN_PAGE = engines["django"].from_string(
    '{% extends "aixops/base.html" %}{% block content %}<p>ok</p>{% endblock %}'
)


def minimal(request):
    """The floor: a Django view that does no work, behind the same middleware."""
    return HttpResponse("ok")


@member_required
def signed_in_floor(request):
    """What any signed-in portal page costs: session, user, the top bar, no catalog."""
    return HttpResponse(SIGNED_IN_PAGE.render({}, request))


def fixed_bytes(request, size):
    """A response as large as a page, with no work: what moving that many bytes costs."""
    return HttpResponse(b"x" * size)


urlpatterns = [
    path("bench/minimal/", minimal),
    path("bench/bytes/<int:size>/", fixed_bytes),
    path("bench/signed-in/", signed_in_floor),
    path("", include("aixops.urls")),
]
