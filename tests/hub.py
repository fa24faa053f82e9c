"""A real JupyterHub for the workspace suites: the embedded run's hub configuration
(devtools/jupyterhub), the real configurable-http-proxy, single-user servers as local
processes of this user, each member in their own directory under a temporary one.

The hub binds 127.0.0.1 on free ports, gives the portal's service token the scopes the
README names, and is stopped (its proxy and servers with it) when the module's tests end.
`stop()` and `start()` again keep its state: the fault tests take it away and bring it back.

Members whose name starts with `stuck` get a server that never answers (tests/workspaces/
hub_test_config.py), which the hub gives up on after STUCK_SECONDS.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from devtools.processes import free_port, stop_process, wait_for

ROOT = Path(__file__).resolve().parents[1]
TEST_CONFIG = ROOT / "tests" / "workspaces" / "hub_test_config.py"
PROXY = ROOT / "devtools" / "jupyterhub" / "node_modules" / ".bin" / "configurable-http-proxy"
STUCK_SECONDS = 3
HUB_CLIENT_ID = "jupyterhub"


class Hub:
    """One JupyterHub process (which starts its proxy and the members' servers)."""

    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        # The realm members sign in with; set before start() for single sign-on.
        self.sign_on_issuer = ""
        self.client_secret = secrets.token_hex(16)
        self.port, self.api_port, self.proxy_api_port = free_port(), free_port(), free_port()
        self.token = secrets.token_hex(32)
        self.server_token = secrets.token_hex(32)
        self.log_path = state_dir / "jupyterhub.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Hub:
        if not PROXY.exists():
            pytest.fail(
                "configurable-http-proxy is not installed: run `source bin/lib/bootstrap.sh "
                "&& ensure_hub_proxy` (bin/test does)"
            )
        env = {
            **os.environ,
            "AIXOPS_HUB_DIR": str(self.state_dir),
            "AIXOPS_HUB_PORT": str(self.port),
            "AIXOPS_HUB_API_PORT": str(self.api_port),
            "AIXOPS_HUB_PROXY_API_PORT": str(self.proxy_api_port),
            "AIXOPS_HUB_SERVICE_TOKEN": self.token,
            "AIXOPS_HUB_STUCK_SECONDS": str(STUCK_SECONDS),
            "AIXOPS_HUB_TEST_TOKEN": self.server_token,
        }
        if self.sign_on_issuer:
            env["AIXOPS_HUB_OIDC_ISSUER"] = self.sign_on_issuer
            env["AIXOPS_HUB_OIDC_CLIENT_ID"] = HUB_CLIENT_ID
            env["AIXOPS_HUB_OIDC_CLIENT_SECRET"] = self.client_secret
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "jupyterhub", "-f", str(TEST_CONFIG)],
                cwd=self.state_dir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for(
                "JupyterHub to answer through its proxy",
                self.answers,
                timeout=30,
                explain=self.log_tail,
            )
        except BaseException:
            self.stop()
            raise
        return self

    def answers(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"JupyterHub exited.\n{self.log_tail()}")
        try:
            return httpx.get(f"{self.url}/hub/api/", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        # The hub stops its proxy and the members' servers on SIGTERM.
        if self.process is not None:
            stop_process(self.process, grace=15)

    def provider_client(self) -> dict:
        """The realm's `jupyterhub` client, as the dev provider takes it."""
        return {
            "client_id": HUB_CLIENT_ID,
            "client_secret": self.client_secret,
            "redirect_uris": [f"{self.url}/hub/oauth_callback"],
        }

    def log_tail(self) -> str:
        return f"JupyterHub log:\n{self.log_path.read_text(errors='replace')[-4000:]}"

    def api(self, method: str, path: str, **kwargs) -> httpx.Response:
        """A request to the hub's REST API with the portal's token."""
        return httpx.request(
            method,
            f"{self.url}/hub/api{path}",
            headers={"Authorization": f"token {self.token}"},
            timeout=10,
            **kwargs,
        )

    def server(self, method: str, name: str, path: str, **kwargs) -> httpx.Response:
        """A request to a member's server through the proxy (`path` under /user/<name>/)."""
        return httpx.request(
            method,
            f"{self.url}/user/{name}/{path}",
            headers={"Authorization": f"token {self.server_token}"},
            timeout=10,
            **kwargs,
        )

    def user(self, name: str) -> dict | None:
        response = self.api("GET", f"/users/{name}")
        return response.json() if response.status_code == 200 else None

    def home(self, name: str) -> Path:
        """The member's directory, as the embedded hub's spawner keeps it."""
        return self.state_dir / "users" / name

    def archives(self) -> list[Path]:
        return sorted((self.state_dir / "archive").glob("*.tar.gz"))


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """A running JupyterHub for the module's tests; stopped after them."""
    running = Hub(tmp_path_factory.mktemp("jupyterhub"))
    try:
        yield running.start()
    finally:
        running.stop()


def use_hub(settings, hub: Hub) -> None:
    """Point the portal at the hub: WORKSPACE_BACKEND=jupyterhub, its URL and token."""
    settings.WORKSPACE_BACKEND = "jupyterhub"
    settings.JUPYTERHUB_URL = hub.url
    settings.JUPYTERHUB_API_TOKEN = hub.token
    settings.JUPYTERHUB_START_TIMEOUT = 30
    settings.JUPYTERHUB_TIMEOUT = 5
