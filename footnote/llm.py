"""A thin, defensive wrapper over the `openai` client for JSON-returning chat completions.

Works with any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server). Every failure
becomes an `LLMError` with a one-line reason; the API key never appears in a message, a repr or a log line.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import openai

from footnote.errors import LLMError
from footnote.settings import LLMSettings
from footnote.text import plain_math

log = logging.getLogger(__name__)

__all__ = ["LLMClient", "LLMOutputError", "Usage", "parse_json_object"]

_SNIPPET = 120  # characters of a bad reply quoted in an error message
_MAX_QUERY_CHARS = 500  # a rewritten query longer than this is treated as the model rambling


@dataclass(frozen=True)
class Usage:
    """Token counts reported by the endpoint (0 when it reports none)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(self.prompt_tokens + other.prompt_tokens, self.completion_tokens + other.completion_tokens)


RETRY_NOTES = {
    "truncated": "Your previous reply was cut off at the length limit. Reply again with fewer and shorter "
    "statements, as the JSON object only.",
    "malformed": "Your previous reply was not the JSON object asked for. Reply again with that JSON object only.",
}


class LLMOutputError(LLMError):
    """The endpoint answered, but the reply is unusable (not JSON, truncated, wrong shape): worth another try.

    `usage` holds the tokens that the unusable reply cost.
    """

    def __init__(self, message: str, usage: Usage | None = None, *, truncated: bool = False) -> None:
        super().__init__(message)
        self.usage = usage or Usage()
        self.truncated = truncated  # cut off at max_tokens, rather than malformed


# --------------------------------------------------------------------------------------------------- JSON parsing

_FENCE_OPEN = re.compile(r"^\s*```[A-Za-z0-9_-]*[ \t]*\n?")
_FENCE_CLOSE = re.compile(r"\n?```\s*$")
_DECODER = json.JSONDecoder(strict=False)  # tolerate raw newlines/tabs inside strings


def _one_line(text: str, limit: int = _SNIPPET) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_json_object(text: str) -> dict[str, Any]:
    """The first complete top-level JSON object in a model reply.

    Strips Markdown code fences, skips prose before the object and ignores trailing junk.
    Raises `ValueError` (with a one-line reason) when there is no complete object.
    """
    body = _FENCE_CLOSE.sub("", _FENCE_OPEN.sub("", text, count=1), count=1).strip()
    if not body:
        raise ValueError("reply is empty")
    if body.startswith("["):
        raise ValueError("reply is a JSON array, expected an object")
    start = body.find("{")
    tries = 0
    while start != -1 and tries < 20:
        try:
            value, _end = _DECODER.raw_decode(body, start)
        except json.JSONDecodeError:
            tries += 1
            start = body.find("{", start + 1)
            continue
        if isinstance(value, dict):
            return value
        start = body.find("{", start + 1)  # pragma: no cover - raw_decode at "{" always yields a dict
    if "{" not in body:
        raise ValueError(f"reply holds no JSON object: {_one_line(body)!r}")
    raise ValueError(f"reply is not valid JSON (unterminated or malformed): {_one_line(body)!r}")


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}


def _check_schema(obj: dict[str, Any], schema: dict[str, Any]) -> None:
    """A shallow check: top-level required keys are present and top-level property types match."""
    missing = [key for key in schema.get("required", []) if key not in obj]
    if missing:
        raise ValueError(f"reply lacks required key(s) {', '.join(map(repr, missing))}")
    for key, prop in (schema.get("properties") or {}).items():
        if key not in obj or not isinstance(prop, dict) or "type" not in prop:
            continue
        names = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
        types = tuple(t for name in names for t in _JSON_TYPES.get(name, (object,)))
        value = obj[key]
        is_bool = isinstance(value, bool)
        if not isinstance(value, types) or (is_bool and bool not in types):
            raise ValueError(f"reply key {key!r} is {type(value).__name__}, schema wants {'/'.join(names)}")


# --------------------------------------------------------------------------------------------------- the client


def _safe_endpoint(url: str | None) -> str:
    """The base URL without credentials or query, for messages."""
    if not url:
        return "the default OpenAI endpoint"
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, "", ""))
    except ValueError:
        return "the configured endpoint"


def _server_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            msg = inner.get("message") or inner.get("detail") or ""
            return str(msg)
        return str(inner)
    if isinstance(body, str):
        return body
    return ""


class LLMClient:
    """JSON chat completions over an OpenAI-compatible endpoint.

    `llama_cpp=True` adds llama.cpp-only request fields (``cache_prompt: false`` for repeatable output);
    leave it off for other servers so requests stay standard.
    """

    def __init__(self, settings: LLMSettings, client: openai.OpenAI | None = None, *, llama_cpp: bool = False) -> None:
        self.settings = settings
        self.llama_cpp = llama_cpp
        self._key = settings.api_key.get_secret_value() if settings.api_key is not None else ""
        if not settings.model:
            raise LLMError("no LLM model configured: set FOOTNOTE_LLM_MODEL")
        self.model: str = settings.model
        if client is None:
            if not settings.configured:
                raise LLMError("no LLM endpoint configured: set FOOTNOTE_LLM_BASE_URL (or an API key for OpenAI)")
            try:
                client = openai.OpenAI(
                    base_url=settings.base_url,
                    api_key=self._key or "not-needed",
                    timeout=settings.timeout_s,
                    max_retries=settings.max_retries,
                )
            except Exception as exc:  # bad URL and the like; the message must not carry the key
                raise LLMError(self._redact(f"cannot set up the LLM client: {type(exc).__name__}: {exc}")) from None
        self._client = client

    def __repr__(self) -> str:
        key = "***" if self._key else "None"
        return f"LLMClient(base_url={_safe_endpoint(self.settings.base_url)!r}, model={self.model!r}, api_key={key})"

    # ------------------------------------------------------------------------------------------- errors

    def _scrub(self, value: object) -> object:
        if isinstance(value, str) and self._key and len(self._key) >= 4:
            return value.replace(self._key, "***")
        return value

    def _redact(self, text: str) -> str:
        return _one_line(str(self._scrub(text)), 300)

    def _error(self, message: str) -> LLMError:
        return LLMError(self._redact(message))

    def _output_error(self, message: str, usage: Usage, *, truncated: bool = False) -> LLMOutputError:
        return LLMOutputError(self._redact(message), usage, truncated=truncated)

    def _translate(self, exc: openai.OpenAIError) -> LLMError:
        endpoint = _safe_endpoint(self.settings.base_url)
        retries = getattr(self._client, "max_retries", self.settings.max_retries)
        tries = f" (gave up after {retries + 1} tries)" if retries else ""
        if isinstance(exc, openai.APITimeoutError):
            return self._error(f"LLM request timed out after {self.settings.timeout_s:g}s at {endpoint}{tries}")
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc.__context__
            detail = f": {cause}" if cause and str(cause) else ""
            return self._error(f"cannot reach the LLM endpoint {endpoint}{tries}{detail}")
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            server = _server_message(exc)
            detail = f": {server}" if server else ""
            if isinstance(exc, openai.AuthenticationError):
                return self._error(f"LLM endpoint {endpoint} rejected the API key (HTTP 401){detail}")
            if isinstance(exc, openai.PermissionDeniedError):
                return self._error(f"LLM endpoint {endpoint} denied access (HTTP 403){detail}")
            if isinstance(exc, openai.NotFoundError):
                return self._error(f"LLM model {self.model!r} or endpoint {endpoint} not found (HTTP 404){detail}")
            if isinstance(exc, openai.RateLimitError):
                return self._error(f"LLM endpoint {endpoint} is rate limiting (HTTP 429){tries}{detail}")
            retried = tries if status >= 500 or status in (408, 409) else ""
            return self._error(f"LLM endpoint {endpoint} returned HTTP {status}{retried}{detail}")
        return self._error(f"LLM request failed: {type(exc).__name__}: {exc}")

    # ------------------------------------------------------------------------------------------- requests

    def complete_json(
        self,
        system: str,
        user: str,
        *,
        schema: dict[str, Any] | None = None,
        max_tokens: int | None = None,
    ) -> tuple[dict[str, Any], Usage]:
        """One chat completion whose reply must be a JSON object.

        With `schema`, the request asks for that JSON schema (``response_format`` ``json_schema``) and the
        reply's top-level required keys and property types are checked; otherwise it asks for ``json_object``.
        Raises `LLMOutputError` for a truncated, looping or unparseable reply and `LLMError` for everything
        else (HTTP errors and timeouts after the client's own retries, refusals, empty replies).
        """
        if schema is None:
            response_format: dict[str, Any] = {"type": "json_object"}
        else:
            response_format = {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}}
        kwargs: dict[str, Any] = {}
        if self.llama_cpp:
            kwargs["extra_body"] = {"cache_prompt": False}
        started = time.monotonic()
        try:
            response = self._client.chat.completions.create(
                model=self.model,
                messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                temperature=self.settings.temperature,
                max_tokens=max_tokens or self.settings.max_tokens,
                response_format=response_format,  # type: ignore[arg-type]
                **kwargs,
            )
        except openai.OpenAIError as exc:
            raise self._translate(exc) from None

        raw_usage = getattr(response, "usage", None)
        usage = Usage(
            int(getattr(raw_usage, "prompt_tokens", 0) or 0), int(getattr(raw_usage, "completion_tokens", 0) or 0)
        )
        choices = getattr(response, "choices", None)
        if not isinstance(choices, Sequence) or isinstance(choices, str):
            raise self._error("LLM endpoint returned something that is not a chat completion")
        if not choices:
            raise self._error("LLM endpoint returned no choices")
        choice = choices[0]
        message = getattr(choice, "message", None)
        finish = getattr(choice, "finish_reason", None)
        refusal = self._scrub(getattr(message, "refusal", None))
        # An endpoint that echoes the key (in a statement, an error snippet cut in half, ...) never gets it
        # past this point: the reply is scrubbed before anything reads, cuts or stores it.
        content = self._scrub(getattr(message, "content", None))
        log.debug(
            "LLM %s: %d prompt + %d completion tokens, finish=%s, %.2fs",
            self.model,
            usage.prompt_tokens,
            usage.completion_tokens,
            finish,
            time.monotonic() - started,
        )
        if refusal:
            raise self._error(f"LLM refused: {refusal}")
        if finish == "content_filter":
            raise self._error("LLM reply was withheld by the endpoint's content filter")
        if finish == "length":
            raise self._output_error(
                f"LLM reply was cut off at max_tokens={max_tokens or self.settings.max_tokens} "
                f"(truncated or looping output): {_one_line(content or '')!r}",
                usage,
                truncated=True,
            )
        if content is None:
            raise self._error(f"LLM reply has no content (finish_reason={finish})")
        if not isinstance(content, str):
            raise self._error("LLM reply content is not text")
        try:
            obj = parse_json_object(content)
            if schema is not None:
                _check_schema(obj, schema)
        except ValueError as exc:
            raise self._output_error(f"LLM {exc}", usage) from None
        return obj, usage

    def complete_json_retry(
        self,
        system: str,
        user: str,
        *,
        schema: dict[str, Any] | None = None,
        attempts: int = 2,
        max_tokens: int | None = None,
    ) -> tuple[dict[str, Any], Usage]:
        """`complete_json`, asked again (up to `attempts` times in all) while the reply is unusable.

        Only `LLMOutputError` (bad JSON, truncation, wrong shape) is retried; HTTP, auth, timeout and refusal
        errors are raised at once. Each retry adds a line to the user message saying what was wrong with the last
        reply (`RETRY_NOTES`): at temperature 0 a local server answers the same request with the same reply, so
        asking again unchanged would only pay for it twice. The returned usage sums every attempt.
        """
        spent = Usage()
        last: LLMOutputError | None = None
        prompt = user
        for attempt in range(1, max(1, attempts) + 1):
            try:
                obj, usage = self.complete_json(system, prompt, schema=schema, max_tokens=max_tokens)
            except LLMOutputError as exc:
                spent += exc.usage
                last = exc
                log.warning("LLM reply unusable (attempt %d of %d): %s", attempt, attempts, exc)
                prompt = f"{user}\n\n{RETRY_NOTES['truncated' if exc.truncated else 'malformed']}"
                continue
            return obj, spent + usage
        assert last is not None
        raise LLMOutputError(str(last), spent, truncated=last.truncated)

    def rewrite_query(self, question: str, history: list[tuple[str, str]]) -> str:
        """A standalone English search query for `question`, a follow-up to `history` ((question, answer) turns,
        oldest first); the question may be in any language.

        An English question without history is returned as is (nothing to resolve). Returns `question` unchanged
        on any `LLMError` or an implausible rewrite.
        """
        if not question.strip() or (not history and plain_math(question).isascii()):  # math letters: English
            return question
        turns = "\n".join(f"User: {_one_line(q, 300)}\nAssistant: {_one_line(a, 300)}" for q, a in history[-3:])
        system = (
            "Rewrite the user's latest question as one standalone English search query for finding passages "
            "in research papers. Resolve words like 'it' or 'that method' from the conversation; translate to "
            'English; keep names, terms and numbers. Reply only with JSON: {"query": "..."}'
        )
        user = f"Conversation:\n{turns}\n\nLatest question: {question.strip()}" if turns else question.strip()
        schema = {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}
        try:
            obj, _usage = self.complete_json(system, user, schema=schema, max_tokens=min(self.settings.max_tokens, 128))
        except LLMError as exc:
            log.info("query rewrite failed, using the question as is: %s", exc)
            return question
        query = " ".join(str(obj.get("query", "")).split())
        if not query or len(query) > _MAX_QUERY_CHARS:
            return question
        return query
