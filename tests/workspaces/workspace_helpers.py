"""A scripted workspace backend for tests that need to count calls or make one fail, and
the audit trail of a workspace."""

from __future__ import annotations

from audit.models import AuditEvent
from workspaces.backends import BACKENDS, Usage, WorkspaceBackendError


class ScriptedBackend:
    """Records every call; `fail` names operations that raise; `usage_bytes`,
    `last_activity` and `found` are reported."""

    calls: list[tuple[str, str]] = []
    fail: set[str] = set()
    usage_bytes = 0
    last_activity = None
    # What inventory() reports: member name → whether the server runs.
    found: dict[str, bool] = {}

    def _call(self, operation, spec=None):
        ScriptedBackend.calls.append((operation, spec.username if spec else ""))
        if operation in ScriptedBackend.fail:
            raise WorkspaceBackendError(f"{operation} refused by the test backend")

    def provision(self, spec):
        self._call("provision", spec)
        return f"https://hub.example.com/user/{spec.username}/"

    def suspend(self, spec):
        self._call("suspend", spec)

    def resume(self, spec):
        self._call("resume", spec)

    def delete(self, spec):
        self._call("delete", spec)
        return ""

    def stop(self, spec):
        self._call("stop", spec)

    def start(self, spec):
        self._call("start", spec)

    def inventory(self):
        self._call("inventory")
        return dict(ScriptedBackend.found)

    def key(self, username):
        return username

    def usage(self, spec):
        self._call("usage", spec)
        return Usage(
            bytes_on_disk=ScriptedBackend.usage_bytes,
            files=3,
            last_activity=ScriptedBackend.last_activity,
        )


def install(monkeypatch, settings) -> type[ScriptedBackend]:
    """Register the scripted backend as `scripted` and make it the configured one."""
    monkeypatch.setitem(BACKENDS, "scripted", f"{__name__}.ScriptedBackend")
    monkeypatch.setattr(ScriptedBackend, "calls", [])
    monkeypatch.setattr(ScriptedBackend, "fail", set())
    monkeypatch.setattr(ScriptedBackend, "usage_bytes", 0)
    monkeypatch.setattr(ScriptedBackend, "last_activity", None)
    monkeypatch.setattr(ScriptedBackend, "found", {})
    settings.WORKSPACE_BACKEND = "scripted"
    return ScriptedBackend


def audit_actions(workspace) -> list[str]:
    """The actions audited on `workspace`, oldest first."""
    return list(
        AuditEvent.objects.filter(workspace=workspace)
        .order_by("id")
        .values_list("action", flat=True)
    )
