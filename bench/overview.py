"""Throughput of the category overview against a minimal Django view, on one gunicorn.

    .venv/bin/python bench/overview.py [--seconds 10] [--connections 8]

Serves the portal with gunicorn (2 sync workers, 127.0.0.1, DEBUG off) on a fresh
SQLite database, or on DATABASE_URL if set; loads the seed catalog and a 200-service,
100-store category; then drives each URL with wrk (apt-get install wrk) for the same
time and prints requests/s and the ratio to the minimal view. Goal: ratio >= 0.5.
A signed-in empty page (session, user, top bar, no catalog) is measured as well: it
is the floor every portal page pays before the overview's own work.
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(env: dict) -> str:
    """Migrate, load the catalogs, make a member; return their session cookie."""

    def manage(*args):
        subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)

    manage("migrate", "--no-input", "-v0")
    manage("collectstatic", "--no-input", "-v0")
    manage("loaddata", "catalog", "-v0")
    script = (
        "from django.contrib.auth import get_user_model\n"
        "from django.contrib.sessions.backends.db import SessionStore\n"
        "from portal.models import Category\n"
        "from tests.factories import make_category\n"
        "if not Category.objects.filter(slug='big').exists():\n"
        "    make_category('big', services=200, stores=100, items=20)\n"
        "user, _ = get_user_model().objects.get_or_create(\n"
        "    username='bench-member', defaults={'membership': 'approved'})\n"
        "session = SessionStore()\n"
        "session['_auth_user_id'] = str(user.pk)\n"
        "session['_auth_user_backend'] = 'django.contrib.auth.backends.ModelBackend'\n"
        "session['_auth_user_hash'] = user.get_session_auth_hash()\n"
        "session.create()\n"
        "print(session.session_key)\n"
    )
    result = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip().splitlines()[-1]


def wait_until_serving(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start")


def wrk(url: str, cookie: str, seconds: int, connections: int) -> tuple[float, str]:
    result = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-H",
            f"Cookie: sessionid={cookie}",
            "-H",
            "Accept-Language: ko",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", result.stdout).group(1))
    if "Non-2xx" in result.stdout or "Socket errors" in result.stdout:
        print(result.stdout)
        raise SystemExit(f"errors while loading {url}")
    p50 = re.search(r"50%\s+(\S+)", result.stdout).group(1)
    return rate, p50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")

    workdir = Path(tempfile.mkdtemp(prefix="aixops-bench-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DEBUG": "false",
        "SECRET_KEY": "bench-" + "x7Qp2Lm9Zr4Tv8Wy1Ks5Hd3Jf6Gb0Nc" * 2,
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATA_DIR": str(workdir),
        "PYTHONPATH": str(ROOT),
    }
    env.setdefault("DATABASE_URL", f"sqlite:///{workdir / 'bench.sqlite3'}")
    cookie = prepare(env)

    port = free_port()
    server = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "gunicorn",
            "aixops.wsgi",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        wait_until_serving(port)
        base = f"http://127.0.0.1:{port}"
        targets = [
            ("minimal Django view", "/bench/minimal/"),
            ("signed-in empty page (floor)", "/bench/signed-in/"),
            ("seed overview (5 services)", "/categories/devops/"),
            ("200-service overview", "/categories/big/"),
        ]
        for _label, path in targets:  # warm up every worker's caches
            wrk(base + path, cookie, 2, args.connections)
        print(
            f"database: {env['DATABASE_URL'].split(':')[0]}, gunicorn 2 workers, "
            f"wrk {args.connections} connections x {args.seconds}s"
        )
        floor = None
        for label, path in targets:
            rate, p50 = wrk(base + path, cookie, args.seconds, args.connections)
            floor = floor or rate
            print(f"{label:30} {rate:9.1f} req/s   p50 {p50:>8}   ratio {rate / floor:.2f}")
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
