"""Run the Keycloak-shaped dev OIDC provider (devtools/oidc-provider) for tests and bin/run.

    with running_provider(clients=[...]) as op:
        op.issuer  # http://127.0.0.1:<port>/realms/aixops

Only the standard library and httpx are used. The provider binds 127.0.0.1
only and is always stopped when the block exits.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from devtools.processes import free_port, stop_process

PROVIDER_DIR = Path(
    os.environ.get("AIXOPS_OIDC_PROVIDER_DIR") or Path(__file__).resolve().parent / "oidc-provider"
)
HOST = "127.0.0.1"
START_TIMEOUT = 20.0
START_ATTEMPTS = 2


class ProviderError(RuntimeError):
    pass


class ProviderSilent(ProviderError):
    """The provider is running but has not answered within START_TIMEOUT."""


@dataclass
class Provider:
    issuer: str
    port: int
    base_url: str
    realm: str
    clients: list[dict]
    process: subprocess.Popen = field(repr=False)
    log_path: Path = field(repr=False)

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def endpoint(self, name: str) -> str:
        """Keycloak endpoint URL: auth, token, userinfo, certs, logout, revoke."""
        return f"{self.issuer}/protocol/openid-connect/{name}"

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    # Test hooks (the provider is started with testHooks: true).
    def upsert_user(self, user: dict) -> dict:
        return self._hook("users", user)

    def disable_user(self, username: str) -> dict:
        return self._hook("users", {"username": username, "enabled": False})

    def logout_user(self, username: str) -> dict:
        """End all sessions of a user, sending back-channel logout tokens."""
        return self._hook("logout", {"username": username})

    def _hook(self, name: str, payload: dict) -> dict:
        r = httpx.post(f"{self.base_url}/_test/{name}", json=payload, timeout=10)
        r.raise_for_status()
        return r.json()


def ensure_node_modules(provider_dir: Path = PROVIDER_DIR) -> None:
    """`npm ci` once if the dependencies are missing (file lock: parallel workers)."""
    marker = provider_dir / "node_modules" / "oidc-provider" / "package.json"
    if marker.exists():
        return
    if shutil.which("npm") is None:
        raise ProviderError("npm not found: Node.js >= 20 is needed for the dev OIDC provider")
    with open(provider_dir / ".npm-ci.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return
        res = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=provider_dir,
            capture_output=True,
            text=True,
        )
        if res.returncode != 0:
            raise ProviderError(f"npm ci failed in {provider_dir}:\n{res.stdout}\n{res.stderr}")



@contextlib.contextmanager
def running_provider(
    realm: str = "aixops",
    clients: list[dict] | None = None,
    users_file: str | os.PathLike | None = None,
    *,
    users: list[dict] | None = None,
    test_hooks: bool = True,
    extra_config: dict | None = None,
) -> Iterator[Provider]:
    """Start the provider on a free 127.0.0.1 port; stop it on exit.

    clients: oidc-provider client metadata dicts (client_id, client_secret,
    redirect_uris, post_logout_redirect_uris, backchannel_logout_uri, ...);
    None means the default `aixops-portal` client.
    """
    ensure_node_modules()
    config: dict = {"realm": realm, "testHooks": test_hooks, **(extra_config or {})}
    if clients:
        config["clients"] = clients
    if users_file:
        config["usersFile"] = str(Path(users_file).resolve())
    if users:
        config["users"] = users

    with tempfile.TemporaryDirectory(prefix="aixops-oidc-") as tmp:
        config_path = Path(tmp) / "config.json"
        config_path.write_text(json.dumps(config))
        provider = _start(realm, clients or [], config_path, Path(tmp))
        try:
            yield provider
        finally:
            stop_process(provider.process)


def _start(realm: str, clients: list[dict], config_path: Path, tmp: Path) -> Provider:
    """Start node and wait until the provider answers.

    A start that never starts listening is stopped and tried once more on another port.
    In one full test run the provider stayed silent for 20 s, with nothing in its output
    to say why, while it starts in half a second otherwise.
    """
    failures = []
    for attempt in range(1, START_ATTEMPTS + 1):
        port = free_port()
        log_path = tmp / f"provider-{attempt}.log"
        env = {**os.environ, "PORT": str(port), "OIDC_PROVIDER_CONFIG": str(config_path)}
        with open(log_path, "wb") as log:
            # stdout/stderr go to a file, not a pipe nobody drains.
            proc = subprocess.Popen(
                ["node", "server.mjs"],
                cwd=PROVIDER_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the terminal is ours to handle
            )
        provider = Provider(
            issuer=f"http://{HOST}:{port}/realms/{realm}",
            port=port,
            base_url=f"http://{HOST}:{port}",
            realm=realm,
            clients=clients,
            process=proc,
            log_path=log_path,
        )
        try:
            _wait_ready(provider)
            return provider
        except ProviderSilent as exc:
            stop_process(proc)
            failures.append(str(exc))
        except BaseException:
            stop_process(proc)
            raise
    raise ProviderError("\n\n".join(failures))


def _wait_ready(provider: Provider) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    last_error = "no answer"
    while time.monotonic() < deadline:
        if provider.process.poll() is not None:
            raise ProviderError(
                f"dev OIDC provider exited with {provider.process.returncode} before it was "
                "ready:\n" + provider.logs()
            )
        try:
            r = httpx.get(provider.discovery_url, timeout=2)
            if r.status_code == 200:
                return
            last_error = f"HTTP {r.status_code}"
        except httpx.HTTPError as exc:
            last_error = repr(exc)
        time.sleep(0.1)
    raise ProviderSilent(
        f"dev OIDC provider not ready at {provider.discovery_url} after {START_TIMEOUT}s "
        f"({last_error}); its output:\n{provider.logs()}"
    )
