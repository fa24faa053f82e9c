from django.http import HttpResponse
from django.urls import include, path


def minimal(request):
    """The floor: a Django view that does no work, behind the same middleware."""
    return HttpResponse("ok")


urlpatterns = [
    path("bench/minimal/", minimal),
    path("", include("aixops.urls")),
]
