# A local JupyterHub for the embedded run and the workspace tests: loopback only, the real
# configurable-http-proxy (from this folder's node_modules), each member's single-user
# server a local process of the hub's own user in its own directory. Everything comes from
# the environment:
#
#   AIXOPS_HUB_DIR            the hub's state: its database, cookie secret and proxy pid;
#                             members' directories in users/<name>, deleted ones in archive/
#   AIXOPS_HUB_PORT           the public port (the proxy): /hub/ and /user/<name>/
#   AIXOPS_HUB_API_PORT       the hub process itself, behind the proxy
#   AIXOPS_HUB_PROXY_API_PORT the proxy's REST API, which the hub drives
#   AIXOPS_HUB_SERVICE_TOKEN  the portal's token (the `aixops-portal` service)
#   AIXOPS_HUB_OIDC_ISSUER    the realm members sign in with (single sign-on), through the
#   AIXOPS_HUB_OIDC_CLIENT_ID realm's `jupyterhub` client and its secret; unset, nobody
#   AIXOPS_HUB_OIDC_CLIENT_SECRET  signs in and only the API drives the servers
#
# The portal suspends a member by putting them in the hub group `aixops-suspended`; the
# pre-spawn hook below refuses to start such a member's server, whoever asks (the member
# from the hub's page, or the API). A production hub adds the same hook (README).
import os
import shutil
import sys
import tarfile
import time
from pathlib import Path

from jupyterhub.spawner import SimpleLocalProcessSpawner
from tornado import web

c = get_config()  # noqa: F821  (JupyterHub's config loader provides it)

HERE = Path(__file__).resolve().parent
STATE = Path(os.environ["AIXOPS_HUB_DIR"])
USERS = STATE / "users"
ARCHIVE = STATE / "archive"
SUSPENDED_GROUP = "aixops-suspended"

c.JupyterHub.bind_url = f"http://127.0.0.1:{os.environ['AIXOPS_HUB_PORT']}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{os.environ['AIXOPS_HUB_API_PORT']}"
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.command = [str(HERE / "node_modules" / ".bin" / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ['AIXOPS_HUB_PROXY_API_PORT']}"
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")
# Members are created by the portal through the API, and only they get in: someone the
# portal has not approved has no hub user, so signing in gets them no server.
c.Authenticator.allow_existing_users = True
ISSUER = os.environ.get("AIXOPS_HUB_OIDC_ISSUER", "").rstrip("/")
if ISSUER:
    # The realm's endpoints, named as Keycloak names them; the user is the one whose name
    # is the realm's preferred_username, which the portal's username is too.
    endpoints = f"{ISSUER}/protocol/openid-connect"
    c.JupyterHub.authenticator_class = "generic-oauth"
    c.GenericOAuthenticator.client_id = os.environ.get("AIXOPS_HUB_OIDC_CLIENT_ID", "jupyterhub")
    c.GenericOAuthenticator.client_secret = os.environ["AIXOPS_HUB_OIDC_CLIENT_SECRET"]
    c.GenericOAuthenticator.oauth_callback_url = (
        f"http://127.0.0.1:{os.environ['AIXOPS_HUB_PORT']}/hub/oauth_callback"
    )
    c.GenericOAuthenticator.authorize_url = f"{endpoints}/auth"
    c.GenericOAuthenticator.token_url = f"{endpoints}/token"
    c.GenericOAuthenticator.userdata_url = f"{endpoints}/userinfo"
    c.GenericOAuthenticator.scope = ["openid", "profile", "email"]
    c.GenericOAuthenticator.username_claim = "preferred_username"
    c.GenericOAuthenticator.login_service = "AIXOps"
    # Straight to the realm's sign-in: the hub has no login of its own to offer.
    c.Authenticator.auto_login = True
else:
    c.JupyterHub.authenticator_class = "null"

c.JupyterHub.services = [
    {"name": "aixops-portal", "api_token": os.environ["AIXOPS_HUB_SERVICE_TOKEN"]},
]
c.JupyterHub.load_roles = [
    {
        "name": "aixops-portal",
        "description": "The AIXOps portal provisions, suspends and deletes members' servers.",
        "scopes": [
            "admin:users",
            "admin:servers",
            "read:users:activity",
            f"groups!group={SUSPENDED_GROUP}",
        ],
        "services": ["aixops-portal"],
    },
]
c.JupyterHub.load_groups = {SUSPENDED_GROUP: {"users": []}}


def refuse_suspended(spawner):
    """Start no server for a member the portal has suspended, saying why and whom to ask,
    in the portal's two languages. `jupyterhub_message` is what the hub's pages show the
    member (otherwise only "Failed to start your server") and its API answers with."""
    if any(group.name == SUSPENDED_GROUP for group in spawner.user.groups):
        name = spawner.user.name
        refusal = web.HTTPError(403, f"{name}'s workspace is suspended.")
        refusal.jupyterhub_message = (
            f"{name}'s workspace is suspended by the platform's admins: ask them on the "
            f"AIXOps portal to reinstate it. / {name}님의 워크스페이스는 플랫폼 관리자가 "
            "정지했습니다. AIXOps 포털 관리자에게 재개를 요청하세요."
        )
        raise refusal


class MemberDirectorySpawner(SimpleLocalProcessSpawner):
    """Each member's server runs in USERS/<name>; deleting the member archives it."""

    home_dir_template = str(USERS / "{username}")

    def delete_forever(self):
        # Called by the hub when the user is deleted: keep a tar.gz, then remove the tree.
        home = Path(self.home_dir)
        if not home.exists():
            return
        ARCHIVE.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        target = ARCHIVE / f"{home.name}-{stamp}.tar.gz"
        with tarfile.open(target, "w:gz") as archive:
            archive.add(home, arcname=home.name)
        shutil.rmtree(home)


c.JupyterHub.spawner_class = MemberDirectorySpawner
c.Spawner.pre_spawn_hook = refuse_suspended
# The single-user server from the hub's own environment, whatever the PATH.
c.Spawner.cmd = [str(Path(sys.executable).parent / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
if os.geteuid() == 0:
    # A container's root: jupyter-server refuses root unless told.
    c.Spawner.args = ["--allow-root"]
