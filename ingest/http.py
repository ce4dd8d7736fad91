"""Retries with exponential backoff for the ingest HTTP calls (daily list and PDF downloads).

One try is a callable; it raises `Retryable` (or lets an httpx timeout/transport error escape) when
trying again may help, and `FetchError` when it will not. `with_retries` runs it up to
``settings.retries + 1`` times, waiting ``backoff_s * 2**n`` (or the server's ``Retry-After``),
capped at ``max_backoff_s``.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import math
import time
from collections.abc import Callable
from typing import TypeVar

import httpx

from footnote.errors import FetchError
from footnote.settings import IngestSettings

log = logging.getLogger(__name__)

T = TypeVar("T")

USER_AGENT = "footnote/0.1 (grounded paper digests)"


class Retryable(Exception):
    """One try failed in a way that another try may fix (429, 5xx, timeout, reset, truncated body)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent or invalid."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def backoff_delay(retry: int, settings: IngestSettings, retry_after: float | None = None) -> float:
    """Wait before retry number `retry` (0-based): Retry-After if given, else exponential; never over the cap."""
    delay = retry_after if retry_after is not None else settings.backoff_s * 2**retry
    return min(delay, settings.max_backoff_s)


def raise_for_retryable_status(response: httpx.Response) -> None:
    """Raise `Retryable` for 429 and 5xx responses, carrying their Retry-After."""
    if response.status_code == 429 or response.status_code >= 500:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise Retryable(f"HTTP {response.status_code}", retry_after)


def with_retries(
    attempt: Callable[[], T],
    *,
    url: str,
    settings: IngestSettings,
    sleep: Callable[[float], object] = time.sleep,
    error: type[FetchError] = FetchError,
) -> T:
    """Run `attempt` until it returns, retrying retryable failures; raise `error` naming `url` when out of tries."""
    tries = settings.retries + 1
    reason = "no try made"
    for n in range(tries):
        try:
            return attempt()
        except Retryable as exc:
            reason, retry_after = exc.reason, exc.retry_after
        except httpx.TimeoutException:
            reason, retry_after = f"timed out after {settings.timeout_s:g}s", None
        except httpx.UnsupportedProtocol as exc:
            raise error(f"{url}: {exc}") from None
        except httpx.TransportError as exc:  # connection refused/reset, truncated body, protocol errors
            reason, retry_after = f"connection failed ({type(exc).__name__}: {' '.join(str(exc).split())})", None
        except httpx.HTTPError as exc:
            raise error(f"{url}: {type(exc).__name__}: {' '.join(str(exc).split())}") from None
        if n + 1 < tries:
            delay = backoff_delay(n, settings, retry_after)
            log.info("%s: %s; retry %d/%d in %.2fs", url, reason, n + 1, settings.retries, delay)
            sleep(delay)
    tries_text = "1 try" if tries == 1 else f"{tries} tries"
    raise error(f"{url}: {reason} (gave up after {tries_text})")
