"""The Hugging Face daily papers list: ``GET {hf_base_url}/api/daily_papers?date=YYYY-MM-DD``.

The response is a JSON list of items; each item's ``paper`` holds the arXiv ``id``, ``title`` (with the
arXiv line breaks), ``authors[].name``, ``summary`` (the abstract), ``upvotes`` and ``publishedAt``.
An error comes back as ``{"error": "..."}``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

from footnote.errors import DailyListError, InvalidSourceError
from footnote.settings import IngestSettings
from footnote.types import DailyEntry
from ingest.http import USER_AGENT, raise_for_retryable_status, with_retries
from ingest.ids import parse_arxiv_id, parse_date

log = logging.getLogger(__name__)


def _fold(value: object) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


def _entry(item: dict[str, Any], paper: dict[str, Any], source: str) -> DailyEntry | None:
    try:
        paper_id, version = parse_arxiv_id(paper["id"])
    except InvalidSourceError as exc:
        log.warning("%s: skipping an item with a bad paper id: %s", source, exc)
        return None
    authors = paper.get("authors")
    names = [_fold(a.get("name")) for a in authors if isinstance(a, dict)] if isinstance(authors, list) else []
    upvotes = paper.get("upvotes")
    published = paper.get("publishedAt")
    return DailyEntry(
        id=paper_id,
        title=_fold(paper.get("title")) or _fold(item.get("title")),
        authors=tuple(name for name in names if name),
        abstract=_fold(paper.get("summary")) or _fold(item.get("summary")),
        upvotes=upvotes if isinstance(upvotes, int) and not isinstance(upvotes, bool) else 0,
        published_at=published if isinstance(published, str) and published else None,
        version=version,
    )


def parse_daily(payload: object, source: str) -> list[DailyEntry]:
    """Entries of a decoded ``/api/daily_papers`` response, deduplicated by id, in list order.

    Items with an invalid arXiv id are skipped with a warning. DailyListError (naming `source`) for an
    error body, a payload that is not a list, or a non-empty list in which no item has ``paper.id``.
    """
    if isinstance(payload, dict) and "error" in payload:
        raise DailyListError(f"{source}: the API answered with an error: {_fold(str(payload['error']))}")
    if not isinstance(payload, list):
        raise DailyListError(f"{source}: expected a JSON list of papers, got a JSON {type(payload).__name__}")
    entries: dict[str, DailyEntry] = {}
    well_formed = 0
    for item in payload:
        paper = item.get("paper") if isinstance(item, dict) else None
        if not isinstance(paper, dict) or not isinstance(paper.get("id"), str):
            continue
        well_formed += 1
        entry = _entry(item, paper, source)
        if entry is not None and entry.id not in entries:
            entries[entry.id] = entry
    if payload and not well_formed:
        raise DailyListError(f"{source}: no item of the list has a paper.id (not a daily papers response?)")
    if well_formed < len(payload):
        log.warning("%s: skipped %d malformed items", source, len(payload) - well_formed)
    return list(entries.values())


def fetch_daily(
    date: str,
    settings: IngestSettings,
    client: httpx.Client | None = None,
    *,
    sleep: Callable[[float], object] = time.sleep,
) -> list[DailyEntry]:
    """The papers on the daily list of `date` (YYYY-MM-DD); InvalidDateError before any request if it is bad."""
    day = parse_date(date).isoformat()
    url = f"{settings.hf_base_url.rstrip('/')}/api/daily_papers?date={day}"
    own = client is None
    http = client or httpx.Client(headers={"User-Agent": USER_AGENT})
    try:
        payload = with_retries(
            lambda: _get_json(http, url, settings), url=url, settings=settings, sleep=sleep, error=DailyListError
        )
    finally:
        if own:
            http.close()
    return parse_daily(payload, url)


def _get_json(client: httpx.Client, url: str, settings: IngestSettings) -> object:
    limit = int(settings.max_daily_mb * 1024 * 1024)
    with client.stream("GET", url, timeout=settings.timeout_s, follow_redirects=True) as response:
        raise_for_retryable_status(response)
        content = _read_capped(response, url, limit, settings.max_daily_mb)
    try:
        payload = json.loads(content)
    except ValueError:
        payload = None
        if response.status_code == 200:
            kind = response.headers.get("Content-Type") or "no Content-Type"
            raise DailyListError(f"{url}: response is not JSON (got {kind}, body starts {content[:40]!r})") from None
    if response.status_code != 200:
        detail = f": {_fold(str(payload['error']))}" if isinstance(payload, dict) and "error" in payload else ""
        raise DailyListError(f"HTTP {response.status_code} from {url}{detail}")
    return payload


def _read_capped(response: httpx.Response, url: str, limit: int, limit_mb: float) -> bytes:
    """The body, refused (DailyListError, not retried) once it is over `limit` bytes, declared or sent."""
    too_big = f"{url}: daily list larger than {limit_mb:g} MiB (ingest.max_daily_mb)"
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise DailyListError(f"{too_big} (Content-Length {declared} bytes)")
    body = bytearray()
    for chunk in response.iter_bytes(64 * 1024):
        body += chunk
        if len(body) > limit:
            raise DailyListError(f"{too_big} (stopped after {len(body)} bytes)")
    return bytes(body)
