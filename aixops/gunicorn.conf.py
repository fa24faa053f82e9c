"""gunicorn settings for production: `gunicorn -c aixops/gunicorn.conf.py aixops.wsgi`.

Every value can be overridden from the environment (GUNICORN_CMD_ARGS or the
variables below), so the same file serves a laptop and a production host.
"""

import gc
import multiprocessing
import os
import shutil
import tempfile

bind = os.environ.get("GUNICORN_BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
# Pages are cached, so a request is mostly CPU: one process per core, and one more to
# keep serving while a request waits on Keycloak. Sync workers behind the buffering nginx,
# as gunicorn advises: with threads (gthread), kept-alive connections stay with the worker
# that accepted them, and under many clients one worker queued while the other idled
# (bench/load.py compares the two).
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() + 1))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5  # for gthread; sync workers close each connection
# Recycle workers now and then so a slow leak never takes the portal down.
max_requests = 50_000
max_requests_jitter = 5_000
# nginx on the same host is the only client allowed to set X-Forwarded-* headers.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
accesslog = "-"
errorlog = "-"

# A temporary directory of the server's own for the workers' Prometheus figures, when
# PROMETHEUS_MULTIPROC_DIR names none (with --preload, name one: the app, and with it
# prometheus_client, is then imported before the server starts).
own_prometheus_dir = None


def on_starting(server):
    # Workers write their Prometheus figures here so that /metrics can add them up: set
    # before any worker is forked, since prometheus_client reads it when it is imported.
    # Not when this file is read: `--print-config` and `--check-config` load the app (which
    # makes the directory) but start no server to remove it again.
    global own_prometheus_dir
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        # Figures of a previous run in a reused directory must not be added to this one.
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory, exist_ok=True)
    else:
        own_prometheus_dir = tempfile.mkdtemp(prefix="aixops-prometheus-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = own_prometheus_dir


def on_exit(server):
    if own_prometheus_dir:
        shutil.rmtree(own_prometheus_dir, ignore_errors=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    # The application just loaded (Django's apps, models, settings) lives as long as the
    # worker: kept out of the collector's generations (gc.freeze), a full collection in a
    # large page (the status page cold) walks only that request's objects, a third of
    # the pause.
    gc.freeze()
