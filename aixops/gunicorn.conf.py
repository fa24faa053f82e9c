"""gunicorn settings for production: `gunicorn -c aixops/gunicorn.conf.py aixops.wsgi`.

Every value can be overridden from the environment (GUNICORN_CMD_ARGS or the
variables below), so the same file serves a laptop and a production host.
"""

import multiprocessing
import os
import shutil
import tempfile

bind = os.environ.get("GUNICORN_BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
# Threads let a worker keep serving while one request waits on the database or Keycloak.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so a slow leak never takes the portal down.
max_requests = 50_000
max_requests_jitter = 5_000
# nginx on the same host is the only client allowed to set X-Forwarded-* headers.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
errorlog = "-"

# Workers write their Prometheus figures here so that /metrics can add them up. Set
# before any worker imports prometheus_client, which reads it at import time.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="aixops-prometheus-"))


def on_starting(server):
    # Figures of a previous run in a reused directory must not be added to this one.
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory, exist_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
