"""Real local servers for probes to hit: HTTP that answers fast, slowly, with 500 or
never, and bare TCP; and SMTP, to receive the portal's e-mail. Each binds 127.0.0.1 on a
free port and stops when told.

    python -m tests.servers --port 8765     # serve HTTP in the foreground (bench/scan.py)

HTTP paths: /ok (200, {"status": "UP"}), /down (200, {"status": "DOWN"}), /error (500),
/slow?seconds=1.0 (200 after a pause), /hang (never answers), /healthcheck (200, OK, as
Flower answers), /host (200, {"host": the Host header}), /redirect?to=URL (302 to URL),
/status?code=N (N), and a minimal OpenID provider's discovery document and JWKS under
/realm. Connections are kept alive, as a
real server's would be. Given an SSL context, the server speaks HTTPS.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email
import email.policy
import functools
import json
import ssl
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from devtools.processes import free_port


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, target, _version = request_line.split(" ", 2)
            headers = {
                name.strip().lower(): value.strip()
                for name, _colon, value in (line.partition(":") for line in header_lines if line)
            }
            if "content-length" in headers:
                await reader.readexactly(int(headers["content-length"]))
            parts = urlsplit(target)
            status, body, extra = await _route(parts.path, parse_qs(parts.query), headers)
            payload = b"" if method == "HEAD" else body
            writer.write(
                f"HTTP/1.1 {status} {'OK' if status < 400 else 'Error'}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                f"{extra}Connection: keep-alive\r\n\r\n".encode("latin-1")
                + payload
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ValueError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def _route(path: str, query: dict, headers: dict) -> tuple[int, bytes, str]:
    """Status, body and extra header lines for one request."""
    if path == "/ok":
        return 200, json.dumps({"status": "UP", "checks": [{"state": "UP"}]}).encode(), ""
    if path == "/down":
        return 200, json.dumps({"status": "DOWN"}).encode(), ""
    if path == "/error":
        return 500, b'{"status": "ERROR"}', ""
    if path == "/slow":
        await asyncio.sleep(float(query.get("seconds", ["1"])[0]))
        return 200, b'{"status": "UP"}', ""
    if path == "/hang":
        await asyncio.sleep(3600)
    if path == "/healthcheck":  # as Flower answers
        return 200, b"OK", ""
    if path == "/host":
        return 200, json.dumps({"host": headers.get("host")}).encode(), ""
    if path == "/redirect":
        return 302, b"{}", f"Location: {query['to'][0]}\r\n"
    if path == "/status":
        return int(query["code"][0]), b"{}", ""
    if path == "/realm/.well-known/openid-configuration":
        issuer = f"http://{headers.get('host')}/realm"
        document = {"issuer": issuer, "jwks_uri": f"{issuer}/certs"}
        return 200, json.dumps(document).encode(), ""
    if path == "/realm/certs":
        return 200, json.dumps({"keys": [_signing_key()]}).encode(), ""
    return 404, b"{}", ""


@functools.cache
def _signing_key() -> dict:
    """An RS256 public key as a JWKS lists it, made once per process."""
    # Imported here: only the OpenID routes need them.
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jwt.algorithms import RSAAlgorithm

    public = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    return {**RSAAlgorithm.to_jwk(public, as_dict=True), "use": "sig", "kid": "bench"}


class _Background:
    """An asyncio server run on its own loop in a daemon thread."""

    def __init__(self):
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.server: asyncio.base_events.Server | None = None
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def _start(self):
        raise NotImplementedError

    def start(self):
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(5)
        return self

    def stop(self):
        async def close():
            self.server.close()
            # Cancel hanging handlers so the loop can stop.
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class HttpServer(_Background):
    """The test HTTP(S) server; `url(path)` gives an absolute URL on it, by its address or
    by a `host` name that the test resolves to 127.0.0.1."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None):
        super().__init__()
        self.ssl_context = ssl_context

    async def _start(self):
        return await asyncio.start_server(
            _handle, "127.0.0.1", self.port, backlog=1024, ssl=self.ssl_context
        )

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://{host}:{self.port}{path}"


class _Threaded:
    """A ThreadingHTTPServer with `handler` on a free 127.0.0.1 port, on its own thread."""

    def __init__(self, handler):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


class JsonServer(_Threaded):
    """A real HTTP server on a free 127.0.0.1 port that answers GETs of the paths in
    `documents` with those JSON documents (404 for others), and counts what it was asked."""

    def __init__(self, documents: dict[str, object] | None = None):
        self.documents = dict(documents or {})
        self.asked: Counter[str] = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path = urlsplit(self.path).path
                server.asked[path] += 1
                found = path in server.documents
                body = json.dumps(server.documents.get(path, {"error": "not found"})).encode()
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        super().__init__(Handler)


class RecordingServer(_Threaded):
    """A real HTTP server on a free 127.0.0.1 port that plays a service and a webhook
    receiver: GETs answer `get_status` (change it to make the service fail), POSTs are
    recorded in `posts` (path, headers with lower-case names, body) and answered with the
    next of `post_statuses` (200 once they run out)."""

    def __init__(self):
        self.get_status = 200
        self.post_statuses: list[int] = []
        self.posts: list[tuple[str, dict[str, str], bytes]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self._answer(server.get_status)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {name.lower(): value for name, value in self.headers.items()}
                server.posts.append((urlsplit(self.path).path, headers, body))
                self._answer(server.post_statuses.pop(0) if server.post_statuses else 200)

            def _answer(self, status):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        super().__init__(Handler)

    def json_posts(self) -> list[dict]:
        return [json.loads(body) for _path, _headers, body in self.posts]


class TcpServer(_Background):
    """A server that accepts TCP connections and says nothing."""

    async def _start(self):
        async def accept(reader, writer):
            writer.close()

        return await asyncio.start_server(accept, "127.0.0.1", self.port)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


class SmtpServer:
    """A real SMTP server (aiosmtpd) on a free 127.0.0.1 port, on its own thread; what it
    received is in `messages` (email.message.EmailMessage), in arrival order."""

    def __init__(self):
        # Imported here: aiosmtpd is a test dependency, and bench/ runs this module too.
        from aiosmtpd.controller import Controller

        self.port = free_port()
        self.messages: list[email.message.EmailMessage] = []
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 Message accepted"

    def start(self):
        self._controller.start()
        return self

    def stop(self):
        self._controller.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    async def serve():
        server = await asyncio.start_server(_handle, "127.0.0.1", args.port, backlog=4096)
        print(f"serving on 127.0.0.1:{args.port}", flush=True)
        async with server:
            await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
