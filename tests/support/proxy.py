"""An HTTP proxy on 127.0.0.1 for plain-HTTP targets, so tests can see what goes through a proxy.

It forwards absolute-form requests (``GET http://host/path``) and tunnels ``CONNECT host:port``
(HTTPS), and keeps each URL or ``CONNECT host:port`` it was asked for in `seen`; with a login,
it answers 407 to requests without the right ``Proxy-Authorization``.
"""

from __future__ import annotations

import base64
import select
import socket
import threading
import urllib.error
import urllib.request
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ForwardProxy:
    def __init__(self, username: str | None = None, password: str = "") -> None:
        self.seen: list[str] = []
        self.expected = (
            None
            if username is None
            else "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        )
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.proxy = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> ForwardProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        proxy: ForwardProxy = self.server.proxy  # type: ignore[attr-defined]
        if not self.path.startswith("http://"):
            self._answer(HTTPStatus.BAD_REQUEST, b"only absolute-form requests")
            return
        if proxy.expected and self.headers.get("Proxy-Authorization") != proxy.expected:
            self._answer(HTTPStatus.PROXY_AUTHENTICATION_REQUIRED, b"who are you?")
            return
        proxy.seen.append(self.path)
        forwarded = {
            k: v for k, v in self.headers.items() if k.lower() in ("accept", "authorization")
        }
        try:
            with _DIRECT.open(urllib.request.Request(self.path, headers=forwarded)) as upstream:
                self._answer(HTTPStatus(upstream.status), upstream.read())
        except urllib.error.HTTPError as error:
            self._answer(HTTPStatus(error.code), error.read())

    def do_CONNECT(self) -> None:
        proxy: ForwardProxy = self.server.proxy  # type: ignore[attr-defined]
        proxy.seen.append(f"CONNECT {self.path}")
        host, _, port = self.path.rpartition(":")
        with socket.create_connection((host, int(port))) as upstream:
            self.send_response(HTTPStatus.OK)
            self.end_headers()
            ends = [self.connection, upstream]
            while True:
                readable, _, _ = select.select(ends, [], [], 10)
                if not readable:
                    break
                for end in readable:
                    data = end.recv(1 << 16)
                    if not data:
                        self.close_connection = True
                        return
                    (upstream if end is self.connection else self.connection).sendall(data)

    def _answer(self, status: HTTPStatus, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass
