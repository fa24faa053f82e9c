"""The `local` workspace backend: one real directory per member on this machine.

    WORKSPACE_ROOT/<member>/            the workspace (README.md inside)
    WORKSPACE_ARCHIVE/<member>-<time>.tar.gz   what a deleted workspace leaves

Suspending makes the tree read-only and remembers each entry's mode in a manifest
beside it; resuming puts the modes back. Ownership is set to WORKSPACE_UID/GID when
configured (the portal usually runs as a service user that cannot chown otherwise).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import tarfile
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings

from . import Usage, WorkspaceBackendError, WorkspaceSpec

DIRECTORY_MODE = 0o2770
FILE_MODE = 0o660
WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
MANIFEST_SUFFIX = ".suspended.json"

README = """# {username}'s AIXOps workspace

This directory is your personal workspace on the AIXOps platform.

- Quota: {quota_gib} GiB. Usage is measured periodically; over the quota, admins are told.
- While your membership or workspace is suspended it is read-only.
- When it is deleted, an archive is kept for the platform's records.
"""


class LocalDirectoryBackend:
    name = "local"

    def __init__(self, root: Path | None = None, archive: Path | None = None):
        self.root = Path(root or settings.WORKSPACE_ROOT)
        self.archive = Path(archive or settings.WORKSPACE_ARCHIVE)
        self.uid = getattr(settings, "WORKSPACE_UID", None)
        self.gid = getattr(settings, "WORKSPACE_GID", None)

    def path_for(self, spec: WorkspaceSpec) -> Path:
        return self.root / directory_name(spec.username)

    def provision(self, spec: WorkspaceSpec) -> str:
        path = self.path_for(spec)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            path.mkdir(mode=DIRECTORY_MODE, exist_ok=True)
            os.chmod(path, DIRECTORY_MODE)  # mkdir's mode is filtered by the umask
            readme = path / "README.md"
            if not readme.exists():
                readme.write_text(README.format(username=spec.username, quota_gib=spec.quota_gib))
                os.chmod(readme, FILE_MODE)
            self._chown(path, readme)
        except OSError as error:
            raise WorkspaceBackendError(f"Cannot create {path}: {error.strerror}") from error
        return str(path)

    def suspend(self, spec: WorkspaceSpec) -> None:
        path = self._existing(spec)
        manifest = self._manifest(path)
        if manifest.exists():
            return
        modes = {
            str(entry.relative_to(path)): stat.S_IMODE(entry.lstat().st_mode)
            for entry in _walk(path)
        }
        manifest.write_text(json.dumps(modes))
        # Deepest first, so a directory is made read-only after what is inside it.
        for entry in sorted(_walk(path), key=lambda p: len(p.parts), reverse=True):
            if not entry.is_symlink():
                os.chmod(entry, modes[str(entry.relative_to(path))] & ~WRITE_BITS)

    def resume(self, spec: WorkspaceSpec) -> None:
        path = self._existing(spec)
        manifest = self._manifest(path)
        if not manifest.exists():
            return
        modes = json.loads(manifest.read_text())
        # Shallowest first, so each directory is writable again before its contents.
        for entry in sorted(_walk(path), key=lambda p: len(p.parts)):
            mode = modes.get(str(entry.relative_to(path)))
            if entry.is_symlink():
                continue
            if mode is None:  # appeared while suspended (only root could have added it)
                mode = DIRECTORY_MODE if entry.is_dir() else FILE_MODE
            os.chmod(entry, mode)
        manifest.unlink()

    def delete(self, spec: WorkspaceSpec) -> str:
        path = self.path_for(spec)
        if not path.exists():
            return ""
        self.resume(spec)
        self.archive.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        target = self.archive / f"{path.name}-{stamp}.tar.gz"
        partial = target.with_suffix(".partial")
        try:
            with tarfile.open(partial, "w:gz") as archive:
                archive.add(path, arcname=path.name)
            partial.rename(target)  # only a complete archive carries the final name
            shutil.rmtree(path)
        except OSError as error:
            partial.unlink(missing_ok=True)
            raise WorkspaceBackendError(f"Cannot archive {path}: {error.strerror}") from error
        return str(target)

    def stop(self, spec: WorkspaceSpec) -> None:
        """A directory runs nothing: nothing to stop (it reports no activity, so the idle
        policy never asks)."""

    def start(self, spec: WorkspaceSpec) -> None:
        """Nothing to start."""

    def usage(self, spec: WorkspaceSpec) -> Usage:
        path = self._existing(spec)
        total = files = 0
        stack = [str(path)]
        while stack:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    info = entry.stat(follow_symlinks=False)
                    total += info.st_blocks * 512
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    else:
                        files += 1
        return Usage(bytes_on_disk=total, files=files)

    def _existing(self, spec: WorkspaceSpec) -> Path:
        path = self.path_for(spec)
        if not path.is_dir():
            raise WorkspaceBackendError(f"{path} does not exist; provision it first.")
        return path

    def _manifest(self, path: Path) -> Path:
        return path.with_name(path.name + MANIFEST_SUFFIX)

    def _chown(self, *paths: Path) -> None:
        if self.uid is None and self.gid is None:
            return
        for path in paths:
            os.chown(
                path, -1 if self.uid is None else self.uid, -1 if self.gid is None else self.gid
            )


def directory_name(username: str) -> str:
    """The member's name, made safe for a path; unsafe names get a hash to stay unique."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "-", username).strip(".-")
    if safe == username and safe:
        return safe
    digest = hashlib.sha256(username.encode()).hexdigest()[:8]
    return f"{safe or 'member'}-{digest}"


def _walk(path: Path):
    yield path
    for directory, subdirectories, files in os.walk(path):
        for name in subdirectories + files:
            yield Path(directory, name)
