"""The `jupyterhub` workspace backend: each member's workspace is their JupyterHub server.

It talks to the hub's REST API (JUPYTERHUB_URL/hub/api) with a service token:

- provision: create the hub user (the member's username, lowercased as the hub's
  authenticators name users at sign-in) and start their server; done once the hub says the
  server is ready, polled for at most JUPYTERHUB_START_TIMEOUT seconds;
- suspend: put the user in the hub group JUPYTERHUB_SUSPENDED_GROUP, whose members the hub's
  pre-spawn hook refuses a server (whoever asks: the member or the API), then stop the
  server; resume: take them out again and start it;
- delete: stop the server and delete the hub user; the spawner decides what happens to the
  files (the embedded hub archives them, KubeSpawner deletes the volume by default);
- stop / start: stop the server of a workspace left idle, and start it again;
- usage: the hub's `last_activity` (the hub does not know the storage used);
- inventory: every hub user and whether their server runs, for the reconciliation.

Every request is bounded by JUPYTERHUB_TIMEOUT; a hub that cannot be reached, refuses the
token or refuses a name raises WorkspaceBackendError saying so, and every step checks the
hub's state first, so running an operation again (a retry, a second delivery) is harmless.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from urllib.parse import quote

import httpx
from django.conf import settings

from . import Usage, WorkspaceBackendError, WorkspaceSpec

# How often the hub is asked whether a server has started or stopped.
POLL_INTERVAL = 0.25
# Users asked for at a time when listing them all (the reconciliation).
USERS_PAGE = 200
SCOPES = "admin:users, admin:servers, read:users:activity and groups!group=<the suspended group>"


class JupyterHubBackend:
    name = "jupyterhub"

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float | None = None,
        start_timeout: float | None = None,
        suspended_group: str | None = None,
    ):
        self.url = (url or settings.JUPYTERHUB_URL).rstrip("/")
        self.token = token or settings.JUPYTERHUB_API_TOKEN
        self.timeout = timeout or settings.JUPYTERHUB_TIMEOUT
        self.start_timeout = start_timeout or settings.JUPYTERHUB_START_TIMEOUT
        self.suspended_group = suspended_group or settings.JUPYTERHUB_SUSPENDED_GROUP

    # --- The backend interface ----------------------------------------------------------

    def provision(self, spec: WorkspaceSpec) -> str:
        name = hub_name(spec.username)
        with self._hub() as hub:
            if hub.user(name) is None:
                hub.create_user(name)
            self._mark_suspended(hub, "DELETE", name)  # a leftover would refuse the start
            self._start(hub, name)
        return self.server_url(name)

    def suspend(self, spec: WorkspaceSpec) -> None:
        name = hub_name(spec.username)
        with self._hub() as hub:
            self._existing(hub, name)
            # Refused first, then stopped: the member cannot start it again in between.
            self._mark_suspended(hub, "POST", name)
            self._stop(hub, name)

    def resume(self, spec: WorkspaceSpec) -> None:
        name = hub_name(spec.username)
        with self._hub() as hub:
            self._existing(hub, name)
            self._mark_suspended(hub, "DELETE", name)
            self._start(hub, name)

    def delete(self, spec: WorkspaceSpec) -> str:
        name = hub_name(spec.username)
        with self._hub() as hub:
            if hub.user(name) is None:
                return ""
            self._stop(hub, name)
            hub.call("DELETE", user_path(name), expect=(204, 404))
        return ""

    def stop(self, spec: WorkspaceSpec) -> None:
        name = hub_name(spec.username)
        with self._hub() as hub:
            self._existing(hub, name)
            self._stop(hub, name)

    def start(self, spec: WorkspaceSpec) -> None:
        name = hub_name(spec.username)
        with self._hub() as hub:
            self._existing(hub, name)
            self._start(hub, name)

    def usage(self, spec: WorkspaceSpec) -> Usage:
        name = hub_name(spec.username)
        with self._hub() as hub:
            user = self._existing(hub, name)
        activity = user.get("last_activity")
        return Usage(
            bytes_on_disk=None,
            files=None,
            last_activity=datetime.fromisoformat(activity) if activity else None,
        )

    def inventory(self) -> dict[str, bool]:
        """Every hub user, by name, and whether their server runs (or is starting)."""
        with self._hub() as hub:
            return {user["name"]: bool(default_server(user)) for user in hub.users()}

    def key(self, username: str) -> str:
        return hub_name(username)

    def server_url(self, name: str) -> str:
        """Where the member opens their server."""
        return f"{self.url}/user/{quote(name, safe='')}/"

    # --- Steps ----------------------------------------------------------------------------

    def _mark_suspended(self, hub: HubClient, method: str, name: str) -> None:
        """Add the user to (POST) or take them out of (DELETE) the suspended group."""
        path = f"/groups/{quote(self.suspended_group, safe='')}/users"
        response = hub.call(method, path, expect=(200, 404), json={"users": [name]})
        if response.status_code == 404:
            raise WorkspaceBackendError(
                f"JupyterHub at {self.url} has no group {self.suspended_group!r} "
                "(JUPYTERHUB_SUSPENDED_GROUP): the hub needs it, and the pre-spawn hook that "
                "refuses its members a server, to suspend workspaces."
            )

    def _hub(self) -> HubClient:
        return HubClient(self.url, self.token, self.timeout)

    def _existing(self, hub: HubClient, name: str) -> dict:
        user = hub.user(name)
        if user is None:
            raise WorkspaceBackendError(
                f"JupyterHub at {self.url} has no user {name!r}; provision the workspace first."
            )
        return user

    def _start(self, hub: HubClient, name: str) -> None:
        """Start the server unless it runs, and wait until the hub says it is ready."""
        server = default_server(hub.user(name))
        if server and server.get("ready"):
            return
        deadline = time.monotonic() + self.start_timeout
        if server and server.get("pending") == "stop":
            # Stopped by someone else just now: a start is refused until the stop is over.
            self._wait_stopped(hub, name, deadline)
            server = None
        if not (server and server.get("pending") == "spawn"):
            # 400 is "already running" (it became ready since we looked); 403 and 500 are
            # a spawn refused or failed at once, whose reason the progress stream gives.
            response = self._held(hub, "POST", name, (201, 202, 400, 403, 500), deadline)
            if response is not None and response.status_code in (403, 500):
                raise self._spawn_failed(hub, name)
        while True:
            server = default_server(hub.user(name))
            if server and server.get("ready"):
                return
            if not server or not server.get("pending"):
                raise self._spawn_failed(hub, name)
            if time.monotonic() > deadline:
                # Cancel the spawn so that it does not start after the operation failed.
                hub.call("DELETE", server_path(name), expect=(202, 204, 400))
                raise WorkspaceBackendError(
                    f"JupyterHub did not get {name}'s server ready within "
                    f"{self.start_timeout:g} s (JUPYTERHUB_START_TIMEOUT); the hub still "
                    f"reported it as pending {server.get('pending')}. The spawn was cancelled."
                )
            time.sleep(POLL_INTERVAL)

    def _stop(self, hub: HubClient, name: str) -> None:
        """Stop the server if it runs, and wait until it has stopped."""
        if not default_server(hub.user(name)):
            return
        deadline = time.monotonic() + self.start_timeout
        self._held(hub, "DELETE", name, (202, 204), deadline)
        self._wait_stopped(hub, name, deadline)

    def _wait_stopped(self, hub: HubClient, name: str, deadline: float) -> None:
        while default_server(hub.user(name)):
            if time.monotonic() > deadline:
                raise WorkspaceBackendError(
                    f"JupyterHub did not stop {name}'s server within {self.start_timeout:g} s "
                    "(JUPYTERHUB_START_TIMEOUT)."
                )
            time.sleep(POLL_INTERVAL)

    def _held(self, hub, method, name, expect, deadline) -> httpx.Response | None:
        """Ask the hub to start (POST) or stop (DELETE) the server. The hub holds such a
        request while it works, up to its slow_spawn_timeout or slow_stop_timeout (10 s by
        default): it gets until the deadline, and if it is still held then (None), the hub
        goes on with the work and the caller polls for the outcome."""
        read = max(deadline - time.monotonic(), 0.1)
        try:
            return hub.call(
                method,
                server_path(name),
                expect=expect,
                timeout=httpx.Timeout(hub.timeout, read=read),
            )
        except HubTimeout:
            return None

    def _spawn_failed(self, hub: HubClient, name: str) -> WorkspaceBackendError:
        message = hub.spawn_message(name) or "the hub gave no reason; see its log"
        return WorkspaceBackendError(f"JupyterHub could not start {name}'s server: {message}")


class HubTimeout(WorkspaceBackendError):
    """The hub did not answer a request in time."""


class HubClient:
    """The hub's REST API with the portal's token; every failure an admin's message."""

    def __init__(self, url: str, token: str, timeout: float):
        self.url = url
        self.timeout = timeout
        self.client = httpx.Client(
            base_url=f"{url}/hub/api",
            headers={"Authorization": f"token {token}"},
            timeout=timeout,
        )

    def __enter__(self) -> HubClient:
        return self

    def __exit__(self, *exc) -> None:
        self.client.close()

    def call(self, method: str, path: str, *, expect: tuple[int, ...], **kwargs):
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise HubTimeout(
                f"JupyterHub at {self.url} did not answer {method} {path} in time "
                "(JUPYTERHUB_TIMEOUT); retry once it answers."
            ) from None
        except httpx.TransportError as error:
            raise WorkspaceBackendError(
                f"Cannot reach JupyterHub at {self.url} ({error}); retry once it is back."
            ) from None
        if response.status_code in expect:
            return response
        message = hub_message(response)
        if response.status_code in (401, 403):
            raise WorkspaceBackendError(
                f"JupyterHub at {self.url} refused the portal's token for {method} {path} "
                f"(HTTP {response.status_code}: {message}). Check JUPYTERHUB_API_TOKEN and "
                f"that its service has the scopes {SCOPES}."
            )
        raise WorkspaceBackendError(
            f"JupyterHub answered {method} {path} with HTTP {response.status_code}: {message}"
        )

    def user(self, name: str) -> dict | None:
        response = self.call("GET", user_path(name), expect=(200, 404))
        return response.json() if response.status_code == 200 else None

    def users(self) -> list[dict]:
        """Every hub user, a page of USERS_PAGE at a time."""
        users: list[dict] = []
        while True:
            page = self.call(
                "GET",
                "/users",
                expect=(200,),
                params={"offset": len(users), "limit": USERS_PAGE},
                headers={"Accept": "application/jupyterhub-pagination+json"},
            ).json()
            users += page["items"]
            if not page["_pagination"].get("next") or not page["items"]:
                return users

    def create_user(self, name: str) -> None:
        response = self.call("POST", user_path(name), expect=(201, 400, 409))
        if response.status_code == 400:
            raise WorkspaceBackendError(
                f"JupyterHub refused to create the user {name!r} ({hub_message(response)}): "
                "its authenticator does not accept this name."
            )

    def spawn_message(self, name: str) -> str:
        """The hub's word on the last spawn, from its progress stream (which, for a spawn
        that has ended, sends its final event at once)."""
        message = ""
        try:
            with self.client.stream("GET", f"{user_path(name)}/server/progress") as response:
                if response.status_code != 200:
                    return ""
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    event = json.loads(line.removeprefix("data:"))
                    message = event.get("message") or message
                    if event.get("failed") or event.get("ready"):
                        break
        except (httpx.HTTPError, ValueError):
            pass
        return message


def hub_name(username: str) -> str:
    """The member's hub user name: JupyterHub's authenticators lowercase the names they sign
    in, so the user the portal creates is the one the member becomes at sign-in."""
    return username.strip().lower()


def user_path(name: str) -> str:
    return f"/users/{quote(name, safe='')}"


def server_path(name: str) -> str:
    return f"{user_path(name)}/server"


def default_server(user: dict | None) -> dict | None:
    """The user's default (unnamed) server as the hub lists it; None when not running."""
    return (user or {}).get("servers", {}).get("")


def hub_message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message") or response.reason_phrase)
    except ValueError:
        return response.text[:200] or response.reason_phrase
