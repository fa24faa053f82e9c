"""Probe of Celery workers (`celery`): do workers answer a ping through the broker, and
is the queue short enough?

Broker unreachable, no worker answering and a queue piling up are three different
results, because they send an operator to three different places (Redis, the worker
process, the work itself). Celery's client is synchronous, so the probe runs it in a
thread, bounded by its own timeouts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from urllib.parse import unquote, urlsplit

from celery import Celery

from .probe_net import Finding, ProbeSpec, Refused, vetted_address, with_host

# Workers answer a ping within a second (Celery's default wait), or not at all.
PING_SECONDS = 1.0


async def probe_celery(spec: ProbeSpec, _client, deny: Sequence) -> Finding:
    """How many workers answer a ping through the check's broker, which ones, and how
    many tasks wait in its queue: down when the broker is unreachable or no worker
    answers, degraded when more than `max_queue_length` tasks wait."""
    parts = urlsplit(spec.target)
    host = unquote(parts.hostname or "")
    address = await vetted_address(host, deny)
    # rediss:// checks the certificate against the name, so it is given the name.
    url = with_host(parts, host if parts.scheme == "rediss" else address)
    wait = max(0.2, min(PING_SECONDS, spec.timeout / 2))
    waiting, workers = await asyncio.to_thread(_ask, url, spec, wait)
    if not workers:
        raise Refused(
            f"no worker answered a ping within {wait:g} s ({waiting} waiting in {spec.queue})"
        )
    count = len(workers)
    detail = (
        f"{count} worker{'s' if count != 1 else ''} ({', '.join(workers)}), "
        f"{waiting} waiting in {spec.queue}"
    )
    warning = ""
    if spec.max_queue_length is not None and waiting > spec.max_queue_length:
        warning = f"more than {spec.max_queue_length} waiting"
    return Finding(detail, warning=warning)


def _ask(url: str, spec: ProbeSpec, wait: float) -> tuple[int, list[str]]:
    """The queue's length and the names of the workers that answered a ping."""
    options = {"socket_connect_timeout": spec.timeout, "socket_timeout": spec.timeout}
    if spec.key_prefix:
        options["global_keyprefix"] = spec.key_prefix
    # An app of the probe's own, on the check's broker: Celery publishes control
    # messages through its app's producer pool, so the portal's app (its broker, its
    # queues) must not be the one asking.
    app = Celery("aixops-health", broker=url, set_as_current=False)
    app.conf.broker_transport_options = options
    app.conf.broker_connection_timeout = spec.timeout
    try:
        with app.connection_for_write() as connection:
            try:
                connection.ensure_connection(max_retries=0)
            except Exception as error:  # kombu raises several types for an unreachable broker
                raise Refused(f"broker unreachable: {error}") from error
            # A declare counts the queue's messages (every priority list on Redis) without
            # creating it; a passive one fails for an empty queue, which Redis deletes.
            waiting = connection.default_channel.queue_declare(queue=spec.queue).message_count
            replies = app.control.ping(timeout=wait, connection=connection)
    finally:
        app.close()
    return waiting, sorted(name for reply in replies for name in reply)
