"""Pytest fixture `corpus_server`: a real HTTP server on 127.0.0.1 standing in for arxiv.org and huggingface.co.

Register with ``pytest_plugins = ["tests.httpserver"]``. Routes:

- ``GET /pdf/<id>`` and ``/pdf/<id>v<N>``: ``shared/corpus/papers/<id>.pdf`` (404 when absent);
- ``GET /api/daily_papers?date=D``: ``server.daily[D]`` as JSON, or a `Raw` body (404 error body when unset);
- ``/loop/a`` <-> ``/loop/b`` redirect to each other forever, ``/hop/<n>`` redirects to ``/hop/<n+1>``.

Faults are queued per path (the query is ignored) and consumed in order, then the path serves normally::

    server.fault("/pdf/2505.00212", "429", retry_after=1).fault("/pdf/2505.00212", "500")

Kinds: any status code ("404", "500", "503"...; ``retry_after`` adds the header), "stall" (wait ``stall_s``
before answering), "truncate" (Content-Length larger than the bytes sent, then close), "reset" (close the
connection with a TCP reset mid-body), "html" (200 text/html), "redirect" (302 to ``to``), "redirect_loop",
"redirect_chain" (endless distinct redirects), "huge" (claims ``size`` bytes; with ``stream=True`` sends a PDF
header and ``size`` bytes with no Content-Length). Every request is recorded in ``server.requests``.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import sys
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
PAPERS = CORPUS / "papers"
HF_API = CORPUS / "hf_api"

_PDF_PATH = re.compile(r"/pdf/(?P<id>.+?)(?:v(?P<version>\d+))?")
_HTML = b"<!DOCTYPE html><html><head><title>arXiv</title></head><body>Not a PDF.</body></html>\n"
_NOT_FOUND = {"error": "Sorry, we can't find the page you are looking for."}
KINDS = {"stall", "truncate", "reset", "html", "redirect", "redirect_loop", "redirect_chain", "huge"}


@dataclass(frozen=True)
class Raw:
    """A daily-list reply sent as is (for non-JSON bodies and odd statuses)."""

    body: bytes
    status: int = 200
    content_type: str = "text/html; charset=utf-8"


@dataclass(frozen=True)
class Fault:
    kind: str
    retry_after: str | None = None
    to: str | None = None
    stall_s: float = 5.0
    size: int = 1 << 30
    stream: bool = False


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # with the query
    time: float  # time.monotonic()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # clients dropping connections is expected here
            super().handle_error(request, client_address)


class CorpusServer:
    """See the module docstring."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self.stop = threading.Event()
        self.daily: dict[str, Any] = {}
        self.requests: list[Request] = []
        owner = self

        class Handler(_Handler):
            server_state = owner

        self._server = _Server(("127.0.0.1", 0), Handler)
        host, port = self._server.server_address[:2]
        self.base_url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.01,), daemon=True)
        self._thread.start()

    def fault(
        self,
        path: str,
        kind: str,
        *,
        times: int = 1,
        retry_after: float | str | None = None,
        to: str | None = None,
        stall_s: float = 5.0,
        size: int = 1 << 30,
        stream: bool = False,
    ) -> CorpusServer:
        """Queue `times` faults of `kind` for `path` (query ignored)."""
        if kind not in KINDS and not kind.isdigit():
            raise ValueError(f"unknown fault {kind!r}")
        if kind == "redirect" and not to:
            raise ValueError("a redirect fault needs to=")
        header = None if retry_after is None else retry_after if isinstance(retry_after, str) else f"{retry_after:g}"
        with self._lock:
            for _ in range(times):
                self._faults[path].append(Fault(kind, header, to, stall_s, size, stream))
        return self

    def hits(self, path: str) -> int:
        """Requests made for `path` (compared with the query when `path` has one)."""
        with self._lock:
            return sum(1 for r in self.requests if (r.path if "?" in path else r.path.split("?")[0]) == path)

    def pdf_bytes(self, paper_id: str) -> bytes:
        return (PAPERS / f"{paper_id}.pdf").read_bytes()

    def _take(self, method: str, target: str) -> Fault | None:
        with self._lock:
            self.requests.append(Request(method, target, time.monotonic()))
            queue = self._faults.get(urlsplit(target).path)
            return queue.popleft() if queue else None

    def close(self) -> None:
        self.stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    server_state: CorpusServer
    protocol_version = "HTTP/1.1"
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _head(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self._head(status, {"Content-Type": content_type, "Content-Length": str(len(body)), **(extra or {})})
        self.wfile.write(body)
        self.wfile.flush()

    def _json(self, status: int, obj: Any, extra: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json; charset=utf-8", extra)

    def _redirect(self, location: str) -> None:
        self._send(302, b"", "text/plain", {"Location": location})

    def do_GET(self) -> None:
        try:
            self._answer()
        except OSError:  # the client went away (timeouts, size cap): nothing more to say
            self.close_connection = True

    def _answer(self) -> None:
        state = self.server_state
        fault = state._take("GET", self.path)
        body = self._body()
        if fault is not None and self._fault(fault, body):
            return
        path = urlsplit(self.path).path
        if path.startswith("/loop/"):
            self._redirect("/loop/b" if path == "/loop/a" else "/loop/a")
        elif (m := re.fullmatch(r"/hop/(\d+)", path)) is not None:
            self._redirect(f"/hop/{int(m.group(1)) + 1}")
        elif body is not None:
            self._send(200, body, "application/pdf")
        elif path == "/api/daily_papers":
            date = parse_qs(urlsplit(self.path).query).get("date", [""])[0]
            reply = state.daily.get(date)
            if isinstance(reply, Raw):
                self._send(reply.status, reply.body, reply.content_type)
            elif date in state.daily:
                self._json(200, reply)
            else:
                self._json(404, _NOT_FOUND)
        else:
            self._json(404, _NOT_FOUND)

    def _body(self) -> bytes | None:
        """The corpus PDF this path names, if any."""
        m = _PDF_PATH.fullmatch(urlsplit(self.path).path)
        if m is None or not re.fullmatch(r"[\w.\-/]+", m.group("id")) or ".." in m.group("id"):
            return None
        file = PAPERS / f"{m.group('id').replace('/', '_')}.pdf"
        return file.read_bytes() if file.is_file() else None

    def _fault(self, fault: Fault, body: bytes | None) -> bool:
        """Act out a fault; False when it only delays (stall) and the normal answer follows."""
        pdf = body or b"%PDF-1.5\n" + b"0" * 4096
        if fault.kind.isdigit():
            extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            self._json(int(fault.kind), {"error": f"scripted HTTP {fault.kind}"}, extra)
        elif fault.kind == "stall":
            if self.server_state.stop.wait(fault.stall_s):
                self.close_connection = True
                return True
            return False
        elif fault.kind == "html":
            self._send(200, _HTML, "text/html; charset=utf-8")
        elif fault.kind == "redirect":
            self._redirect(fault.to or "/")
        elif fault.kind == "redirect_loop":
            self._redirect("/loop/a")
        elif fault.kind == "redirect_chain":
            self._redirect("/hop/1")
        elif fault.kind in ("truncate", "reset"):
            self._head(200, {"Content-Type": "application/pdf", "Content-Length": str(len(pdf))})
            self.wfile.write(pdf[: len(pdf) // 2])
            self.wfile.flush()
            if fault.kind == "reset":  # SO_LINGER 0: close() sends RST instead of FIN
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            self.close_connection = True
        elif fault.kind == "huge":
            self._huge(fault)
        return True

    def _huge(self, fault: Fault) -> None:
        self.close_connection = True
        if not fault.stream:
            self._head(200, {"Content-Type": "application/pdf", "Content-Length": str(fault.size)})
            self.wfile.write(b"%PDF-1.5\n")
            return
        self._head(200, {"Content-Type": "application/pdf", "Connection": "close"})  # body ends at close
        self.wfile.write(b"%PDF-1.5\n")
        block = b"0" * 65536
        sent = 0
        while sent < fault.size and not self.server_state.stop.is_set():
            self.wfile.write(block)
            sent += len(block)


@pytest.fixture
def corpus_server() -> Iterator[CorpusServer]:
    """A fresh `CorpusServer` on 127.0.0.1 for one test."""
    server = CorpusServer()
    try:
        yield server
    finally:
        server.close()
