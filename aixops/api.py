"""The portal's JSON API for scripts: one django-ninja API at /api/, which generates its
OpenAPI 3 schema (/api/openapi.json) and docs page (/api/docs) from the code.

Each room owns its endpoints in a router of its own (portal.api, accounts.api); the URL
map (aixops/urls.py) names them, by import path, as it includes each room's urls. An
endpoint that refuses a call raises ApiError, which answers with the refusal's own JSON.
"""

from django.http import JsonResponse
from ninja import NinjaAPI, Schema
from ninja.errors import HttpError
from ninja.openapi.docs import Swagger
from ninja.renderers import JSONRenderer


class ApiError(Exception):
    """An answer that ends an API call early: its status, JSON body and headers."""

    def __init__(self, status: int, body: dict, headers: dict | None = None):
        super().__init__(body.get("error", status))
        self.status = status
        self.body = body
        self.headers = headers or {}


class Refusal(Schema):
    """What every refusal says: why (in English, for scripts), and sometimes more."""

    error: str


# What any endpoint may answer before it runs: no or a wrong sign-in, no access, too many
# wrong tokens from the caller's address (accounts.access, accounts.tokens).
REFUSALS = {401: Refusal, 403: Refusal, 429: Refusal}


class InvalidInput(Schema):
    """A request body or parameter that does not fit the schema (django-ninja's answer)."""

    detail: list[dict]


class UnicodeJSONRenderer(JSONRenderer):
    """Korean catalog text as it is, not as \\u escapes (what the API always sent)."""

    json_dumps_params = {"ensure_ascii": False}


def no_such_endpoint(request, path=""):
    """Any other address under /api/: a JSON 404, as scripts expect from an API (a typo, a
    category slug the URL pattern cannot match), not the HTML page."""
    return JsonResponse({"error": "no such endpoint"}, status=404)


def build_api(routers: list[str]) -> NinjaAPI:
    """The API with the given routers (import paths of ninja Routers) at its root."""
    api = NinjaAPI(
        title="AIXOps portal API",
        version="1",
        description=(
            "The catalog, its health, and member approval for staff. Sign in with a "
            "personal API token (`Authorization: Bearer <token>`, made on *API tokens* or "
            "with `manage.py api_tokens create`) or a portal session."
        ),
        urls_namespace="api",
        openapi_url="/openapi.json",
        docs_url="/docs",
        # The docs page must not call out to the validator badge (the CSP allows the
        # portal's own origin only).
        docs=Swagger(settings={"validatorUrl": None}),
        renderer=UnicodeJSONRenderer(),
    )

    def answer(request, exc: ApiError):
        return JsonResponse(
            exc.body,
            status=exc.status,
            headers=exc.headers,
            json_dumps_params={"ensure_ascii": False},
        )

    api.add_exception_handler(ApiError, answer)
    # django-ninja's own refusals (a body that is not JSON) in the same shape as ours.
    api.add_exception_handler(
        HttpError,
        lambda request, exc: answer(request, ApiError(exc.status_code, {"error": str(exc)})),
    )
    for router in routers:
        api.add_router("/", router)
    return api
