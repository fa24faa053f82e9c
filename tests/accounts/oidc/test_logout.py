"""Signing out ends the portal session and the Keycloak session; Keycloak can end ours."""

import html
import re
import time
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
from django.test import Client

from accounts.models import LogoutTokenUse, OIDCSession, User
from tests.accounts.oidc.flow import provider_login, sign_in


def test_rp_logout_redirects_to_keycloak_with_id_token_hint(sso):
    client = Client()
    _, browser = sign_in(client, "member")
    id_token = client.session["oidc_id_token"]
    assert OIDCSession.objects.filter(user__username="member").count() == 1

    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == sso.endpoint("logout")
    query = parse_qs(target.query)
    assert query["id_token_hint"] == [id_token]
    assert query["post_logout_redirect_uri"] == ["http://testserver/accounts/signed-out/"]
    # The portal session is over at once...
    assert client.get("/").status_code == 302
    assert not OIDCSession.objects.exists()

    # ...and Keycloak's ends when the browser gets there, then it comes back to us.
    page = browser.get(response["Location"])
    action = html.unescape(
        re.search(r'id="op.logoutForm" method="post" action="([^"]+)"', page.text)[1]
    )
    xsrf = re.search(r'name="xsrf" value="([^"]+)"', page.text)[1]
    done = browser.post(urljoin(str(page.url), action), data={"xsrf": xsrf, "logout": "yes"})
    assert done.headers["location"].startswith("http://testserver/accounts/signed-out/")
    # Signing in again needs the password again.
    start = Client().get("/oidc/authenticate/")
    again = browser.get(start["Location"], follow_redirects=True)
    assert 'id="kc-login"' in again.text


def test_logout_of_a_local_session_stays_local(sso, alice):
    client = Client()
    client.force_login(alice)
    response = client.post("/accounts/logout/")
    assert response["Location"] == "/accounts/signed-out/"


def test_signed_out_page_offers_to_sign_in_again(sso):
    page = Client().get("/accounts/signed-out/").content.decode()
    assert "/accounts/login/" in page


def test_backchannel_logout_ends_the_portal_session(sso, live_server, catalog, alice):
    # A real browser session on the live server: Keycloak calls it back over HTTP.
    browser = httpx.Client(timeout=10)
    start = browser.get(f"{live_server.url}/oidc/authenticate/")
    callback, _ = provider_login(
        start.headers["location"], "member", "member", stop_at=live_server.url, browser=browser
    )
    assert browser.get(callback).status_code == 302
    User.objects.get(username="member").approve(by=alice)
    assert browser.get(f"{live_server.url}/api/categories/").status_code == 200

    notified = sso.logout_user("member")["notified"]
    assert notified and notified[0]["client_id"] == "aixops-portal"
    for _ in range(50):  # the provider's POST to us is asynchronous to its answer
        if not OIDCSession.objects.exists():
            break
        time.sleep(0.1)
    assert not OIDCSession.objects.exists()
    # (Earlier tests' RP logouts also make Keycloak call us back, possibly just now.)
    assert LogoutTokenUse.objects.exists()
    assert browser.get(f"{live_server.url}/api/categories/").status_code == 401


def test_signing_out_of_the_admin_also_ends_the_keycloak_session(sso):
    client = Client()
    sign_in(client, "admin")
    response = client.post("/admin/logout/")
    assert response["Location"].startswith(sso.endpoint("logout") + "?id_token_hint=")
