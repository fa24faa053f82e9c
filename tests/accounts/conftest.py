"""Fixtures for the accounts suites: workspaces on a temporary disk, committed work, a
real worker."""

import pytest

from tests.accounts.live_worker import worker, worker_env  # noqa: F401  (fixtures)


@pytest.fixture(autouse=True)
def workspace_dirs(tmp_path, settings):
    """Every workspace the tests make lives under the test's own temporary directory."""
    settings.WORKSPACE_ROOT = tmp_path / "workspaces"
    settings.WORKSPACE_ARCHIVE = tmp_path / "workspace-archive"
    return settings.WORKSPACE_ROOT, settings.WORKSPACE_ARCHIVE


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run what waits for the commit (queued tasks, e-mail) as if the test's transaction
    had committed: `with committed(): ...`. Tasks run eagerly (tests/conftest.py)."""

    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run
