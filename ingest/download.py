"""Download arXiv PDFs into a cache directory: retried, size-capped, checked, written atomically.

A cached file (``<id>.pdf``, or ``<id>v<N>.pdf`` for a pinned version) is returned without any request.
Bodies stream into a hidden temp file next to the target, are fsynced and then renamed into place, so the
cache never holds a partial PDF, whatever goes wrong (KeyboardInterrupt included). A body shorter than its
Content-Length makes httpx raise a transport error, which is retried like a reset.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from types import TracebackType

import httpx

from footnote.errors import FetchError, InvalidSourceError
from footnote.settings import IngestSettings
from ingest.http import USER_AGENT, raise_for_retryable_status, with_retries
from ingest.ids import parse_arxiv_id, pdf_name

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
_CHUNK = 64 * 1024
_MAGIC = b"%PDF-"


def resolve_id(paper_id: str, version: int | None = None) -> tuple[str, int | None]:
    """Validate an id (which may carry ``vN``) and an explicit version; InvalidSourceError if they are bad or clash."""
    if not isinstance(paper_id, str):
        raise InvalidSourceError(f"{paper_id!r}: not an arXiv id")
    pid, embedded = parse_arxiv_id(paper_id)
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise InvalidSourceError(f"{paper_id}: version must be a positive integer, got {version!r}")
    if version is not None and embedded is not None and version != embedded:
        raise InvalidSourceError(f"{paper_id}: conflicting versions v{embedded} and v{version}")
    version = version if version is not None else embedded
    if version is not None and version < 1:
        raise InvalidSourceError(f"{paper_id}: version must be a positive integer, got {version!r}")
    return pid, version


class Downloader:
    """Fetches arXiv PDFs into `cache_dir`. Close it (or use ``with``) when it created its own client."""

    def __init__(
        self,
        settings: IngestSettings,
        cache_dir: Path,
        client: httpx.Client | None = None,
        *,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self.settings = settings
        self.cache_dir = Path(cache_dir)
        self._own_client = client is None
        self.client = client or httpx.Client(timeout=settings.timeout_s, headers={"User-Agent": USER_AGENT})
        self._sleep = sleep  # None: an interruptible wait (fetch_many cancels it on KeyboardInterrupt)
        self._max_bytes = int(settings.max_pdf_mb * 1024 * 1024)

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    def __enter__(self) -> Downloader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def url_for(self, paper_id: str, version: int | None = None) -> str:
        """``{arxiv_base_url}/pdf/{id}`` or ``.../pdf/{id}v{version}``."""
        pid, version = resolve_id(paper_id, version)
        return f"{self.settings.arxiv_base_url.rstrip('/')}/pdf/{pid}" + (f"v{version}" if version else "")

    def path_for(self, paper_id: str, version: int | None = None) -> Path:
        """The cache file of a paper: ``<safe id>.pdf`` or ``<safe id>v<N>.pdf``."""
        pid, version = resolve_id(paper_id, version)
        return self.cache_dir / pdf_name(pid, version)

    def fetch(self, paper_id: str, version: int | None = None) -> Path:
        """The cached PDF of a paper, downloading it first if needed (FetchError, InvalidSourceError)."""
        return self._fetch(paper_id, version, threading.Event())

    def fetch_many(
        self,
        items: list[tuple[str, int | None]],
        on_done: Callable[[str, Path | FetchError], None] | None = None,
    ) -> dict[str, Path | FetchError]:
        """Fetch several papers, `settings.concurrency` at a time; one paper's failure is returned, not raised.

        Keys are the ids as given, in input order; an id given twice is fetched once (its first version).
        `on_done` is called in the calling thread as each paper finishes.
        """
        wanted: dict[str, int | None] = {}
        for paper_id, version in items:
            wanted.setdefault(paper_id, version)
        if not wanted:
            return {}
        results: dict[str, Path | FetchError] = {}
        cancel = threading.Event()
        workers = min(self.settings.concurrency, len(wanted))
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="footnote-download")
        try:
            futures = {pool.submit(self._fetch_one, pid, v, cancel): pid for pid, v in wanted.items()}
            for future in as_completed(futures):
                pid = futures[future]
                results[pid] = future.result()
                if on_done is not None:
                    on_done(pid, results[pid])
        except BaseException:
            cancel.set()  # in-flight downloads stop at their next chunk or backoff and clean up
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown()
        return {pid: results[pid] for pid in wanted}

    # -- internals ------------------------------------------------------------------------------------------

    def _fetch_one(self, paper_id: str, version: int | None, cancel: threading.Event) -> Path | FetchError:
        try:
            return self._fetch(paper_id, version, cancel)
        except FetchError as exc:
            return exc
        except InvalidSourceError as exc:
            error = FetchError(str(exc))
            error.__cause__ = exc
            return error
        except Exception as exc:  # anything unforeseen fails this paper only, never the other downloads
            log.debug("download of %s failed unexpectedly", paper_id, exc_info=True)
            message = " ".join(str(exc).split()) or "no message"
            error = FetchError(f"{paper_id}: download failed ({type(exc).__name__}: {message})")
            error.__cause__ = exc
            return error

    def _fetch(self, paper_id: str, version: int | None, cancel: threading.Event) -> Path:
        target = self.path_for(paper_id, version)  # validates before any path or URL is formed
        if target.is_file():
            return target
        url = self.url_for(paper_id, version)
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FetchError(f"{url}: cannot create cache directory {self.cache_dir}: {exc}") from exc
        sleep = self._sleep or cancel.wait
        path = with_retries(lambda: self._try(url, target, cancel), url=url, settings=self.settings, sleep=sleep)
        log.info("downloaded %s -> %s", url, path)
        return path

    def _try(self, url: str, target: Path, cancel: threading.Event) -> Path:
        """One try: follow up to MAX_REDIRECTS redirects, then save a 200 body."""
        if cancel.is_set():
            raise FetchError(f"{url}: cancelled")
        current = url
        seen = {current}
        for _ in range(MAX_REDIRECTS + 1):
            with self.client.stream("GET", current, timeout=self.settings.timeout_s, follow_redirects=False) as r:
                if r.is_redirect:
                    following = str(r.url.join(r.headers["Location"]))
                    if following in seen:
                        raise FetchError(f"{url}: redirect loop ({current} redirects back to {following})")
                    seen.add(following)
                    current = following
                    continue
                raise_for_retryable_status(r)
                if r.status_code != 200:
                    via = f" (redirected from {url})" if current != url else ""
                    raise FetchError(f"HTTP {r.status_code} from {current}{via}")
                return self._save(r, url, target, cancel)
        raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")

    def _save(self, response: httpx.Response, url: str, target: Path, cancel: threading.Event) -> Path:
        too_big = f"{url}: larger than {self.settings.max_pdf_mb:g} MiB"
        declared = _content_length(response)
        if declared is not None and declared > self._max_bytes:
            raise FetchError(f"{too_big} (Content-Length {declared} bytes)")
        try:
            fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=self.cache_dir)
        except OSError as exc:
            raise FetchError(f"{url}: cannot write in {self.cache_dir}: {exc}") from exc
        tmp = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                head, size = b"", 0
                for chunk in response.iter_bytes(_CHUNK):
                    if cancel.is_set():
                        raise FetchError(f"{url}: cancelled")
                    if len(head) < len(_MAGIC):
                        head = (head + chunk)[:64]
                        if len(head) >= len(_MAGIC):
                            _check_pdf(head, response, url)
                    size += len(chunk)
                    if size > self._max_bytes:
                        raise FetchError(f"{too_big} (stopped after {size} bytes)")
                    out.write(chunk)
                _check_pdf(head, response, url)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise FetchError(f"{url}: cannot write {target}: {exc}") from exc
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(self.cache_dir)
        return target


def _content_length(response: httpx.Response) -> int | None:
    try:
        value = int(response.headers.get("Content-Length", ""))
    except ValueError:
        return None
    return value if value >= 0 else None


def _check_pdf(head: bytes, response: httpx.Response, url: str) -> None:
    if not head.startswith(_MAGIC):
        kind = response.headers.get("Content-Type") or "no Content-Type"
        start = f"body starts {head[:16]!r}" if head else "empty body"
        raise FetchError(f"{url}: not a PDF (got {kind}, {start})")


def _fsync_dir(path: Path) -> None:
    """Make the rename durable (best effort; not every platform can open a directory)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
