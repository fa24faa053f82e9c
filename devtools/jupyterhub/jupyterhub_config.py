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
# Members are created by the portal through the API; nobody else gets in. Without single
# sign-on configured nobody signs in at all: the API alone drives the servers.
c.JupyterHub.authenticator_class = "null"
c.Authenticator.allow_existing_users = True

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
    """Start no server for a member the portal has suspended."""
    if any(group.name == SUSPENDED_GROUP for group in spawner.user.groups):
        raise RuntimeError(
            f"{spawner.user.name}'s workspace is suspended by the platform's admins."
        )


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
