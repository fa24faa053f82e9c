"""Where members' workspaces really live: the interface every workspace backend implements.

The domain (the Workspace model and its transitions) never touches disks, clusters or
JupyterHub itself: it hands a `WorkspaceSpec` to the backend named by
`WORKSPACE_BACKEND` and records what comes back. A backend:

- `provision(spec) -> str`: create the workspace if missing and return where to open it
  (a path or URL). Called again for an existing workspace, it returns the same place.
- `suspend(spec)`: stop the member from changing it (read-only, server stopped, …).
- `resume(spec)`: undo `suspend`.
- `delete(spec) -> str`: keep what must be kept (an archive, a snapshot) and remove the
  workspace; returns where the remains are ("" if nothing is kept).
- `usage(spec) -> Usage`: what it holds now, and when it was last used, as far as the
  backend can tell.
- `stop(spec)` / `start(spec)`: stop an active workspace's server while it is idle, and
  start it again (nothing to do for a backend without servers).

A backend with servers may also offer `inventory() -> dict[str, bool]` (every workspace it
holds, by `key(username)`, and whether its server runs), which the reconciliation compares
with the portal.

Every method is idempotent: the Celery task calling it may be delivered twice. A method
raises `WorkspaceBackendError` with a message for the admin when it cannot do its job.

Adding a backend means one module here and one entry in `BACKENDS` (the `jupyterhub` one
calls the hub's REST API; a Kubernetes one would manage a namespace with a ResourceQuota per
member), with no change to the domain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils.module_loading import import_string

BACKENDS = {
    "local": "workspaces.backends.local.LocalDirectoryBackend",
    "jupyterhub": "workspaces.backends.jupyterhub.JupyterHubBackend",
}


class WorkspaceBackendError(Exception):
    """The backend could not do what was asked; the message is shown to admins."""


@dataclass(frozen=True)
class WorkspaceSpec:
    """What a backend needs to know about one member's workspace."""

    workspace_id: int
    username: str
    quota_gib: int
    cpu_limit: float | None = None
    memory_mib: int | None = None


@dataclass(frozen=True)
class Usage:
    """A workspace's measured size and last use; None where the backend cannot tell."""

    bytes_on_disk: int | None
    files: int | None
    last_activity: datetime | None = None


def get_backend(name: str | None = None):
    """The configured backend (or the one named), ready to use."""
    name = name or settings.WORKSPACE_BACKEND
    try:
        path = BACKENDS[name]
    except KeyError:
        raise WorkspaceBackendError(
            f"Unknown workspace backend {name!r}; known: {', '.join(sorted(BACKENDS))}."
        ) from None
    return import_string(path)()
