"""A small HTTP proxy on loopback that sits in front of an S3 endpoint (moto) and misbehaves on purpose.

Faults, per operation (PUT, GET, LIST, HEAD, DELETE or "*"), for the first N matching
requests or at a seeded rate:

- "503": `503 SlowDown` (S3 throttling), the request never reaches the upstream;
- "500": `500 InternalError`, never reaches the upstream;
- "reset": the request is read, then the connection is reset (TCP RST, no answer);
- "slow": the answer comes `delay` seconds late (after forwarding), to trip read timeouts.

Bounded: it serves at most `max_seconds` (then shuts itself down) and every socket has a
timeout, so a forgotten proxy never hangs a test run. Use it as a context manager:

    with FaultProxy(moto_server.url, [Fault("PUT", "503", first=3)]) as proxy:
        point_aws_at(monkeypatch, proxy.url)
        ...
    proxy.injected  # Counter({("PUT", "503"): 3})
"""

import http.client
import random
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "expect"}
ERROR_BODY = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'
ANSWERS = {"503": (503, "SlowDown", "Please reduce your request rate."), "500": (500, "InternalError", "We encountered an internal error.")}


@dataclass
class Fault:
    operation: str  # PUT | GET | LIST | HEAD | DELETE | *
    kind: str  # 503 | 500 | reset | slow
    first: int | None = None  # the first N matching requests; None: use `rate`
    rate: float = 1.0
    delay: float = 1.0  # for "slow"


def operation_of(method: str, path: str) -> str:
    """S3 operation class of a path-style request: a GET on the bucket itself is a LIST."""
    route, _, query = path.partition("?")
    if method == "GET" and (route.strip("/").count("/") == 0 or "list-type" in query):
        return "LIST"
    return method


class FaultProxy:
    def __init__(self, upstream: str, faults: list[Fault], seed: int = 0, max_seconds: float = 60.0):
        self.upstream = urlsplit(upstream)
        self.faults = list(faults)
        self.matched = Counter()  # requests seen per fault index
        self.injected = Counter()  # (operation, kind) -> times injected
        self.requests = Counter()  # operation -> requests seen
        self.max_seconds = max_seconds
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._timer = threading.Timer(max_seconds, self.stop)
        self._timer.daemon = True
        self._stopped = False

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FaultProxy":
        self._thread.start()
        self._timer.start()
        return self

    def stop(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._timer.cancel()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def choose(self, operation: str) -> Fault | None:
        """The fault to inject into this request, if any; counts what it decides."""
        with self._lock:
            self.requests[operation] += 1
            for index, fault in enumerate(self.faults):
                if fault.operation not in (operation, "*"):
                    continue
                self.matched[index] += 1
                hit = self.matched[index] <= fault.first if fault.first is not None else self._random.random() < fault.rate
                if hit:
                    self.injected[(operation, fault.kind)] += 1
                    return fault
        return None


def _handler_for(proxy: FaultProxy):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 30

        def log_message(self, *args) -> None:
            pass

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                parts = []
                while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                    parts.append(self.rfile.read(size))
                    self.rfile.readline()
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _handle(self) -> None:
            body = self._body()
            fault = proxy.choose(operation_of(self.command, self.path))
            kind = fault.kind if fault else None
            if kind == "reset":
                self.close_connection = True
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                return
            if kind in ANSWERS:
                status, code, message = ANSWERS[kind]
                self._answer(status, {"Content-Type": "application/xml"}, ERROR_BODY.format(code=code, message=message).encode())
                return
            status, headers, answer = self._forward(body)
            if kind == "slow":
                time.sleep(fault.delay)
            self._answer(status, headers, answer)

        def _forward(self, body: bytes):
            upstream = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=30)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP | {"content-length"}}
                headers["Content-Length"] = str(len(body))
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                answer = response.read()
                kept = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
                return response.status, kept, answer
            finally:
                upstream.close()

        def _answer(self, status: int, headers, body: bytes) -> None:
            self.send_response(status)
            items = headers.items() if isinstance(headers, dict) else headers
            has_length = False
            for key, value in items:
                if key.lower() == "content-length":
                    if self.command != "HEAD":
                        continue
                    has_length = True
                self.send_header(key, value)
            if not has_length:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

    return Handler
