"""The local workspace backend makes, freezes, thaws, archives and measures real directories."""

import os
import stat
import tarfile

import pytest

from workspaces.backends import (
    Usage,
    WorkspaceBackendError,
    WorkspaceSpec,
    get_backend,
)
from workspaces.backends.local import LocalDirectoryBackend, directory_name

BOB = WorkspaceSpec(workspace_id=1, username="bob", quota_gib=5)


@pytest.fixture
def backend(tmp_path):
    return LocalDirectoryBackend(root=tmp_path / "workspaces", archive=tmp_path / "archive")


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_provision_makes_the_member_directory_with_a_readme(backend, tmp_path):
    location = backend.provision(BOB)
    path = tmp_path / "workspaces" / "bob"
    assert location == str(path)
    assert mode(path) == 0o2770
    readme = (path / "README.md").read_text()
    assert "bob's AIXOps workspace" in readme and "Quota: 5 GiB" in readme
    assert mode(path / "README.md") == 0o660


def test_provision_twice_keeps_what_the_member_wrote(backend):
    path = backend.path_for(BOB)
    backend.provision(BOB)
    (path / "notes.txt").write_text("mine")
    (path / "README.md").write_text("edited")
    assert backend.provision(BOB) == str(path)
    assert (path / "notes.txt").read_text() == "mine"
    assert (path / "README.md").read_text() == "edited"


def test_provision_sets_the_configured_owner(tmp_path, settings):
    if os.geteuid() != 0:
        pytest.skip("chown to another user needs root")
    settings.WORKSPACE_UID, settings.WORKSPACE_GID = 4242, 4343
    backend = LocalDirectoryBackend(root=tmp_path / "w", archive=tmp_path / "a")
    path = backend.path_for(BOB)
    backend.provision(BOB)
    assert (path.stat().st_uid, path.stat().st_gid) == (4242, 4343)
    assert (path / "README.md").stat().st_uid == 4242


def test_suspend_makes_everything_read_only_and_resume_restores_each_mode(backend):
    path = backend.path_for(BOB)
    backend.provision(BOB)
    (path / "src").mkdir(mode=0o755)
    script = path / "src" / "run.sh"
    script.write_text("#!/bin/sh\n")
    os.chmod(script, 0o750)
    os.chmod(path / "src", 0o755)

    backend.suspend(BOB)
    backend.suspend(BOB)  # twice is harmless
    assert mode(path) == 0o2550
    assert mode(path / "src") == 0o555
    assert mode(script) == 0o550
    assert mode(path / "README.md") == 0o440

    backend.resume(BOB)
    backend.resume(BOB)
    assert mode(path) == 0o2770
    assert mode(path / "src") == 0o755
    assert mode(script) == 0o750
    assert mode(path / "README.md") == 0o660


def test_delete_archives_then_removes(backend, tmp_path):
    path = backend.path_for(BOB)
    backend.provision(BOB)
    (path / "data").mkdir()
    (path / "data" / "results.csv").write_text("a,b\n1,2\n")
    backend.suspend(BOB)

    archive = backend.delete(BOB)
    assert not path.exists()
    assert archive.startswith(str(tmp_path / "archive" / "bob-")) and archive.endswith(".tar.gz")
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        assert {"bob", "bob/README.md", "bob/data/results.csv"} <= names
        assert tar.extractfile("bob/data/results.csv").read() == b"a,b\n1,2\n"
    assert backend.delete(BOB) == ""  # already gone: nothing more to do


def test_usage_counts_bytes_on_disk_and_files(backend):
    path = backend.path_for(BOB)
    backend.provision(BOB)
    (path / "big.bin").write_bytes(os.urandom(1 << 20))
    (path / "nested").mkdir()
    (path / "nested" / "small.txt").write_text("x")
    usage = backend.usage(BOB)
    assert isinstance(usage, Usage)
    assert usage.files == 3
    assert (1 << 20) <= usage.bytes_on_disk < (1 << 20) + 64 * 1024


def test_operations_on_a_missing_workspace_say_so(backend):
    with pytest.raises(WorkspaceBackendError, match="does not exist; provision it first"):
        backend.suspend(BOB)


def test_provision_failure_is_a_backend_error(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    backend = LocalDirectoryBackend(root=blocker, archive=tmp_path / "a")
    with pytest.raises(WorkspaceBackendError, match="Cannot create"):
        backend.provision(BOB)


@pytest.mark.parametrize(
    ("username", "expected"),
    [("bob", "bob"), ("alice.kim", "alice.kim"), ("kim_j-1", "kim_j-1")],
)
def test_safe_usernames_name_the_directory(username, expected):
    assert directory_name(username) == expected


@pytest.mark.parametrize("username", ["../etc", "a/b", "홍길동", "..", "bob smith"])
def test_unsafe_usernames_cannot_escape_the_root(username):
    name = directory_name(username)
    assert "/" not in name and name not in ("", ".", "..")
    assert name != directory_name(username + "x")


def test_unknown_backend_is_named(settings):
    settings.WORKSPACE_BACKEND = "nfs"
    with pytest.raises(
        WorkspaceBackendError, match="Unknown workspace backend 'nfs'; known: jupyterhub, local"
    ):
        get_backend()


def test_configured_backend_is_local_by_default():
    assert isinstance(get_backend(), LocalDirectoryBackend)
