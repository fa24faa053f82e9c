"""What tests, benchmarks and bin/run share about the local processes they start: a free
loopback port to start one on, waiting until it is ready, and stopping it."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]


class NotReady(Exception):
    """What was waited for did not come in time; the message says what, and why if known."""


def free_port() -> int:
    """A 127.0.0.1 port nothing listens on right now (and, closed again, one that refuses)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(
    what: str,
    probe: Callable[[], T],
    *,
    timeout: float = 30,
    every: float = 0.1,
    explain: Callable[[], str] | None = None,
) -> T:
    """Call `probe` until it returns something truthy, and return that; after `timeout`
    seconds raise NotReady naming `what`, with `explain()` (a log's tail, say) if given.
    A probe that raises OSError counts as not ready yet (a port not listening)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = probe()
        except OSError:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            detail = f":\n{explain()}" if explain else ""
            raise NotReady(f"timed out after {timeout:g} s waiting for {what}{detail}")
        time.sleep(every)


def listening(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on the port (a probe for wait_for)."""
    with socket.create_connection((host, port), timeout=1):
        return True


def start_worker(
    *, queue: str, env: dict, log_path: Path, pool: str = "solo", concurrency: int = 1
) -> subprocess.Popen:
    """A `celery worker` of the portal's app, on its own queue (so that no other worker
    takes its tasks) and named for it, its output in `log_path`; stop it with stop_process.
    Gossip, mingle and heartbeats are off: it has no peers to talk to."""
    with open(log_path, "w") as log:
        return subprocess.Popen(
            [
                *(sys.executable, "-m", "celery", "-A", "aixops", "worker", "-Q", queue),
                *("-n", f"{queue}@127.0.0.1", f"--pool={pool}", f"--concurrency={concurrency}"),
                *("--without-gossip", "--without-mingle", "--without-heartbeat"),
                "--loglevel=INFO",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def stop_process(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL if it has not gone within `grace` seconds; always reaped."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
