"""Probes of single sign-on: an OpenID provider (`oidc`) and a tool's sign-in redirect
(`sso-redirect`).

They answer what a 200 from a URL cannot: that the provider names the issuer the portal
and the tools expect, has a key to sign tokens with, keeps time with us, and accepts a
client's redirect URI; and that a tool behind single sign-on still sends an anonymous
visitor to sign in rather than showing its own pages.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qs, urljoin, urlsplit

import aiohttp
import jwt
from yarl import URL

from .probe_net import Fetched, Finding, ProbeSpec, Refused, fetch

WELL_KNOWN = "/.well-known/openid-configuration"
# What the probe's authorization request asks for: the smallest valid one.
_AUTHORIZATION_PARAMS = {"response_type": "code", "scope": "openid", "state": "aixops-health"}
# How much of a URL a detail quotes.
_URL_SHOWN = 120


async def probe_oidc(spec: ProbeSpec, client: aiohttp.ClientSession, deny: Sequence) -> Finding:
    """Discovery names the expected issuer, the JWKS holds a usable signing key, the
    provider's clock is within `max_clock_skew` of ours, and, given a client id, the
    provider accepts that client's authorization request with its redirect URI."""
    if not spec.target:
        raise Refused(
            "no provider to probe: set OIDC_ISSUER (for a blank target) or PLATFORM_BASE_URL "
            "(for a path)"
        )
    issuer_url = spec.target.removesuffix(WELL_KNOWN).rstrip("/")

    async def get(url: str) -> Fetched:
        fetched = await fetch(client, url, deny=deny, read_body=True)
        answers.append(fetched)
        return fetched

    answers: list[Fetched] = []
    discovery = await get(issuer_url + WELL_KNOWN)
    if discovery.status != 200:
        raise Refused(f"discovery document: HTTP {discovery.status}")
    document = _json_object(discovery.body, "the discovery document")
    issuer = document.get("issuer")
    expected = spec.expected or issuer_url
    if issuer != expected:
        raise Refused(f"issuer is {issuer!r}, expected {expected!r}")
    notes = ["issuer matches"]

    jwks_uri = document.get("jwks_uri")
    if not isinstance(jwks_uri, str):
        raise Refused("the discovery document names no jwks_uri")
    jwks = await get(jwks_uri)
    if jwks.status != 200:
        raise Refused(f"JWKS: HTTP {jwks.status}")
    algorithms = _signing_algorithms(_json_object(jwks.body, "the JWKS").get("keys"))
    if not algorithms:
        raise Refused("the JWKS has no usable signing key")
    count = len(algorithms)
    notes.append(
        f"{count} signing key{'s' if count != 1 else ''} ({', '.join(sorted(set(algorithms)))})"
    )

    notes.append(_clock_words(discovery, spec.max_clock_skew))

    if spec.client_id:
        notes.append(await _authorization_accepted(spec, document, get))
    expiries = [answer.certificate_expires for answer in answers if answer.certificate_expires]
    return Finding(", ".join(notes), certificate_expires=min(expiries, default=None))


def _json_object(body: bytes, what: str) -> dict:
    try:
        value = json.loads(body)
    except ValueError:
        raise Refused(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise Refused(f"{what} is not a JSON object")
    return value


def _signing_algorithms(keys: object) -> list[str]:
    """The algorithm of every key in a JWKS that can verify signatures: not meant for
    encryption, and one PyJWT can load (a known key type with its parameters)."""
    if not isinstance(keys, list):
        return []
    algorithms = []
    for key in keys:
        if not isinstance(key, dict) or key.get("use", "sig") != "sig":
            continue
        try:
            algorithms.append(jwt.PyJWK(key).algorithm_name)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            continue
    return algorithms


def _clock_words(answer: Fetched, allowed: float) -> str:
    """How far the provider's clock (its Date header) is from ours, or Refused when it is
    further than `allowed` seconds: tokens it signs would read as not yet valid or expired."""
    date = answer.headers.get("date")
    if not date:
        return "no Date header to compare clocks"
    try:
        theirs = parsedate_to_datetime(date)
    except (TypeError, ValueError):
        return f"unreadable Date header {date!r}"
    if theirs.tzinfo is None:
        theirs = theirs.replace(tzinfo=UTC)
    skew = (theirs - datetime.now(UTC)).total_seconds()
    # The header has whole seconds: a second off is no skew.
    if abs(skew) > allowed + 1:
        side = "ahead of" if skew > 0 else "behind"
        raise Refused(
            f"the provider's clock is {abs(skew):.0f} s {side} ours (allowed {allowed:g} s)"
        )
    return f"clock within {allowed:g} s"


async def _authorization_accepted(spec: ProbeSpec, document: dict, get) -> str:
    """Ask the authorization endpoint to start a sign-in for the check's client and
    redirect URI: accepted when it shows its login form or sends the browser on within
    the provider; rejected when it answers an error, or redirects back with one."""
    endpoint = document.get("authorization_endpoint")
    if not isinstance(endpoint, str):
        raise Refused("the discovery document names no authorization_endpoint")
    params = {**_AUTHORIZATION_PARAMS, "client_id": spec.client_id}
    if spec.redirect_uri:
        params["redirect_uri"] = spec.redirect_uri
    url = URL(endpoint).update_query(params)
    answer = await get(str(url))
    client = f"authorization request of {spec.client_id}"
    if answer.status == 200:
        return f"{client} shows the login form"
    if 300 <= answer.status < 400 and answer.headers.get("location"):
        where = urljoin(str(answer.url), answer.headers["location"])
        if spec.redirect_uri and where.startswith(spec.redirect_uri):
            error = parse_qs(urlsplit(where).query).get("error", ["no code"])[0]
            raise Refused(f"{client} refused: error={error}")
        return f"{client} accepted"
    text = answer.body.decode("utf-8", "replace").lower()
    if "redirect_uri" in text or "redirect uri" in text:
        raise Refused(f"{client} refused: redirect URI not accepted (HTTP {answer.status})")
    raise Refused(f"{client} refused: HTTP {answer.status}")


async def probe_sso_redirect(
    spec: ProbeSpec, client: aiohttp.ClientSession, deny: Sequence
) -> Finding:
    """An anonymous request to a tool must be sent to sign in: redirected to the expected
    sign-in (a URL prefix: the realm, oauth2-proxy's /oauth2/), answered 401/403, or
    answered with a sign-in page that leads there (nginx's `error_page 401` serving
    oauth2-proxy's page, whose form posts to /oauth2/start). Any other 2xx is the tool's
    own page: `not protected`."""
    if not spec.target:
        raise Refused("PLATFORM_BASE_URL is not set, so a relative URL cannot be probed")
    answer = await fetch(client, spec.target, deny=deny, method=spec.method, read_body=True)
    status, expires = answer.status, answer.certificate_expires
    expected = urljoin(spec.target, spec.expected)
    if 300 <= status < 400:
        location = answer.headers.get("location")
        if not location:
            raise Refused(f"HTTP {status} without a Location")
        where = urljoin(str(answer.url), location)
        if not where.startswith(expected):
            raise Refused(f"sends to {_shown(where)}, not to the sign-in at {_shown(expected)}")
        return Finding(
            f"sends to sign in: HTTP {status} to {_shown(where)}", certificate_expires=expires
        )
    if status in (401, 403):
        return Finding(f"asks to sign in: HTTP {status}", certificate_expires=expires)
    sign_in_path = urlsplit(expected).path
    if 200 <= status < 300 and sign_in_path.strip("/") and sign_in_path.encode() in answer.body:
        return Finding(f"shows the sign-in page: HTTP {status}", certificate_expires=expires)
    if 200 <= status < 300:
        raise Refused(f"not protected: HTTP {status} without signing in")
    raise Refused(f"HTTP {status}")


def _shown(url: str) -> str:
    """A URL without its query (state, nonce: noise in a detail), shortened."""
    bare = url.split("?", 1)[0]
    return bare if len(bare) <= _URL_SHOWN else bare[: _URL_SHOWN - 1] + "…"
