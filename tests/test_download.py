"""PDF downloads against a real local server: retries, timeouts, caps, redirects, cache and atomic writes."""

from __future__ import annotations

import datetime as dt
import socket
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import ingest.download
from footnote.errors import FetchError, InvalidSourceError
from footnote.settings import IngestSettings
from ingest.download import Downloader
from ingest.http import backoff_delay, parse_retry_after

GOOD = "2505.00212"  # 1.3 MB
OTHER = "2501.12948"
PDF = f"/pdf/{GOOD}"


def settings(server, **overrides) -> IngestSettings:
    values = {"arxiv_base_url": server.base_url, "timeout_s": 0.5, "backoff_s": 0.01, "max_backoff_s": 5.0}
    return IngestSettings(**(values | overrides))


def downloader(server, cache: Path, **overrides) -> tuple[Downloader, list[float]]:
    sleeps: list[float] = []
    return Downloader(settings(server, **overrides), cache, sleep=sleeps.append), sleeps


def listing(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


# ------------------------------------------------------------------------------------------------ success, cache


def test_fetch_writes_the_exact_bytes(corpus_server, tmp_path: Path) -> None:
    d, sleeps = downloader(corpus_server, tmp_path)
    path = d.fetch(GOOD)
    assert path == tmp_path / f"{GOOD}.pdf"
    assert path.read_bytes() == corpus_server.pdf_bytes(GOOD)
    assert listing(tmp_path) == [f"{GOOD}.pdf"]  # no temp file left behind
    assert [r.path for r in corpus_server.requests] == [PDF] and sleeps == []


def test_versions_map_to_urls_and_files(corpus_server, tmp_path: Path) -> None:
    d, _ = downloader(corpus_server, tmp_path)
    assert d.fetch(GOOD, 2).name == f"{GOOD}v2.pdf"
    assert d.fetch(f"{GOOD}v1").name == f"{GOOD}v1.pdf"
    assert d.fetch(f"{GOOD}v3", 3).name == f"{GOOD}v3.pdf"
    assert [r.path for r in corpus_server.requests] == [f"{PDF}v2", f"{PDF}v1", f"{PDF}v3"]
    assert d.url_for("hep-th/9901001", 2) == f"{corpus_server.base_url}/pdf/hep-th/9901001v2"
    assert d.path_for("hep-th/9901001") == tmp_path / "hep-th_9901001.pdf"


def test_cache_hit_makes_no_request(corpus_server, tmp_path: Path) -> None:
    d, _ = downloader(corpus_server, tmp_path)
    first = d.fetch(GOOD)
    assert d.fetch(GOOD) == first
    (tmp_path / f"{OTHER}v4.pdf").write_bytes(b"%PDF-cached")
    assert d.fetch(OTHER, 4).read_bytes() == b"%PDF-cached"
    assert corpus_server.hits(PDF) == 1 and len(corpus_server.requests) == 1


@pytest.mark.parametrize(
    ("paper_id", "version"),
    [
        ("../x", None),
        ("/etc/passwd", None),
        (f"{GOOD}\x00", None),
        (f"{GOOD}/../../x", None),
        ("hep-th/../../etc", None),
        ("", None),
        ("https://evil.example/pdf/2505.00212", None),
        (f"{GOOD}v1", 2),
        (GOOD, 0),
        (GOOD, True),
    ],
)
def test_invalid_ids_are_rejected_before_any_request(corpus_server, tmp_path: Path, paper_id, version) -> None:
    cache = tmp_path / "cache"
    d, _ = downloader(corpus_server, cache)
    with pytest.raises(InvalidSourceError):
        d.fetch(paper_id, version)
    assert corpus_server.requests == [] and not cache.exists()


@given(st.text(max_size=30))
def test_any_id_is_rejected_or_stays_in_the_cache(text: str) -> None:
    d = Downloader(IngestSettings(), Path("/cache"), client=object())  # type: ignore[arg-type]
    try:
        path = d.path_for(text)
    except InvalidSourceError:
        return
    assert path.parent == Path("/cache") and path.name.endswith(".pdf") and "\x00" not in str(path)


# ------------------------------------------------------------------------------------------------ retries


def test_429_retry_after_seconds_is_honoured(corpus_server, tmp_path: Path) -> None:
    corpus_server.fault(PDF, "429", retry_after=1)
    d, sleeps = downloader(corpus_server, tmp_path)
    assert d.fetch(GOOD).read_bytes() == corpus_server.pdf_bytes(GOOD)
    assert sleeps == [1.0] and corpus_server.hits(PDF) == 2


def test_retry_after_is_capped_by_max_backoff(corpus_server, tmp_path: Path) -> None:
    corpus_server.fault(PDF, "503", retry_after=120)
    d, sleeps = downloader(corpus_server, tmp_path, max_backoff_s=0.5)
    d.fetch(GOOD)
    assert sleeps == [0.5]


def test_5xx_backs_off_exponentially_then_succeeds(corpus_server, tmp_path: Path) -> None:
    corpus_server.fault(PDF, "500").fault(PDF, "503").fault(PDF, "502")
    d, sleeps = downloader(corpus_server, tmp_path, retries=3)
    assert d.fetch(GOOD).is_file()
    assert sleeps == [0.01, 0.02, 0.04] and corpus_server.hits(PDF) == 4


def test_5xx_gives_up_after_the_retries(corpus_server, tmp_path: Path) -> None:
    corpus_server.fault(PDF, "500", times=3)
    d, sleeps = downloader(corpus_server, tmp_path, retries=2)
    with pytest.raises(FetchError, match=rf"^{corpus_server.base_url}{PDF}: HTTP 500 \(gave up after 3 tries\)$"):
        d.fetch(GOOD)
    assert corpus_server.hits(PDF) == 3 and len(sleeps) == 2 and listing(tmp_path) == []


def test_stall_past_the_timeout_is_retried_then_fails(corpus_server, tmp_path: Path) -> None:
    corpus_server.fault(PDF, "stall", times=2, stall_s=3)
    d, _ = downloader(corpus_server, tmp_path, timeout_s=0.3, retries=1)
    with pytest.raises(FetchError, match=r"timed out after 0.3s \(gave up after 2 tries\)"):
        d.fetch(GOOD)
    assert corpus_server.hits(PDF) == 2 and listing(tmp_path) == []


def test_one_stall_then_success(corpus_server, tmp_path: Path) -> None:
    corpus_server.fault(PDF, "stall", stall_s=3)
    d, sleeps = downloader(corpus_server, tmp_path, timeout_s=0.3)
    assert d.fetch(GOOD).read_bytes() == corpus_server.pdf_bytes(GOOD)
    assert corpus_server.hits(PDF) == 2 and sleeps == [0.01]


@pytest.mark.parametrize("kind", ["truncate", "reset"])
def test_cut_bodies_are_retried(corpus_server, tmp_path: Path, kind: str) -> None:
    corpus_server.fault(PDF, kind)
    d, _ = downloader(corpus_server, tmp_path)
    assert d.fetch(GOOD).read_bytes() == corpus_server.pdf_bytes(GOOD)
    assert corpus_server.hits(PDF) == 2 and listing(tmp_path) == [f"{GOOD}.pdf"]


def test_always_truncated_fails_and_leaves_nothing(corpus_server, tmp_path: Path) -> None:
    corpus_server.fault(PDF, "truncate", times=2)
    d, _ = downloader(corpus_server, tmp_path, retries=1)
    with pytest.raises(FetchError, match=r"connection failed .*gave up after 2 tries"):
        d.fetch(GOOD)
    assert listing(tmp_path) == []


def test_connection_refused_is_retried(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps: list[float] = []
    d = Downloader(
        IngestSettings(arxiv_base_url=f"http://127.0.0.1:{port}", retries=2, backoff_s=0.01),
        tmp_path,
        sleep=sleeps.append,
    )
    with pytest.raises(FetchError, match=r"connection failed \(ConnectError.*gave up after 3 tries"):
        d.fetch(GOOD)
    assert sleeps == [0.01, 0.02]


# ------------------------------------------------------------------------------------------------ refusals


def test_404_is_not_retried(corpus_server, tmp_path: Path) -> None:
    d, sleeps = downloader(corpus_server, tmp_path)
    with pytest.raises(FetchError) as info:
        d.fetch("2501.99999")  # not in the corpus
    assert str(info.value) == f"HTTP 404 from {corpus_server.base_url}/pdf/2501.99999"
    assert corpus_server.hits("/pdf/2501.99999") == 1 and sleeps == [] and listing(tmp_path) == []


def test_html_is_not_a_pdf(corpus_server, tmp_path: Path) -> None:
    corpus_server.fault(PDF, "html")
    d, sleeps = downloader(corpus_server, tmp_path)
    with pytest.raises(FetchError, match=r"not a PDF \(got text/html; charset=utf-8, body starts b'<!DOCTYPE"):
        d.fetch(GOOD)
    assert corpus_server.hits(PDF) == 1 and sleeps == [] and listing(tmp_path) == []


def test_body_over_the_cap(corpus_server, tmp_path: Path) -> None:
    d, _ = downloader(corpus_server, tmp_path, max_pdf_mb=0.5)
    with pytest.raises(FetchError, match=r"larger than 0.5 MiB \(Content-Length 1302517 bytes\)"):
        d.fetch(GOOD)
    assert corpus_server.hits(PDF) == 1 and listing(tmp_path) == []


def test_claimed_huge_body(corpus_server, tmp_path: Path) -> None:
    corpus_server.fault(PDF, "huge")
    d, _ = downloader(corpus_server, tmp_path)
    with pytest.raises(FetchError, match=rf"{PDF}: larger than 50 MiB \(Content-Length {1 << 30} bytes\)"):
        d.fetch(GOOD)
    assert corpus_server.hits(PDF) == 1


def test_streamed_huge_body_without_length(corpus_server, tmp_path: Path) -> None:
    corpus_server.fault(PDF, "huge", stream=True, size=16 << 20)
    d, _ = downloader(corpus_server, tmp_path, max_pdf_mb=2)
    with pytest.raises(FetchError, match=r"larger than 2 MiB \(stopped after \d+ bytes\)"):
        d.fetch(GOOD)
    assert corpus_server.hits(PDF) == 1 and listing(tmp_path) == []


def test_keyboard_interrupt_leaves_no_partial_file(corpus_server, tmp_path: Path, monkeypatch) -> None:
    def interrupted(fd: int) -> None:
        assert len(listing(tmp_path)) == 1 and listing(tmp_path)[0].startswith(f".{GOOD}.pdf.")  # the temp file
        raise KeyboardInterrupt

    monkeypatch.setattr(ingest.download.os, "fsync", interrupted)
    d, _ = downloader(corpus_server, tmp_path)
    with pytest.raises(KeyboardInterrupt):
        d.fetch(GOOD)
    assert listing(tmp_path) == []


# ------------------------------------------------------------------------------------------------ redirects


def test_redirect_is_followed(corpus_server, tmp_path: Path) -> None:
    corpus_server.fault(PDF, "redirect", to=f"{PDF}v1")
    d, _ = downloader(corpus_server, tmp_path)
    path = d.fetch(GOOD)
    assert path.name == f"{GOOD}.pdf" and path.read_bytes() == corpus_server.pdf_bytes(GOOD)
    assert [r.path for r in corpus_server.requests] == [PDF, f"{PDF}v1"]


def test_redirect_loop_is_an_error(corpus_server, tmp_path: Path) -> None:
    corpus_server.fault(PDF, "redirect_loop")
    d, sleeps = downloader(corpus_server, tmp_path)
    with pytest.raises(FetchError, match=r"redirect loop"):
        d.fetch(GOOD)
    assert [r.path for r in corpus_server.requests] == [PDF, "/loop/a", "/loop/b"] and sleeps == []


def test_redirects_are_bounded(corpus_server, tmp_path: Path) -> None:
    corpus_server.fault(PDF, "redirect_chain")
    d, _ = downloader(corpus_server, tmp_path)
    with pytest.raises(FetchError, match=r"more than 5 redirects"):
        d.fetch(GOOD)
    assert len(corpus_server.requests) == 6


# ------------------------------------------------------------------------------------------------ fetch_many


def test_fetch_many_returns_failures_beside_the_papers(corpus_server, tmp_path: Path) -> None:
    d, _ = downloader(corpus_server, tmp_path, concurrency=2)
    done: list[tuple[str, object, str]] = []
    items = [(GOOD, None), ("2501.99999", None), (OTHER, 1), ("../x", None), (GOOD, None)]
    results = d.fetch_many(items, on_done=lambda pid, r: done.append((pid, r, threading.current_thread().name)))
    assert list(results) == [GOOD, "2501.99999", OTHER, "../x"]
    assert results[GOOD] == tmp_path / f"{GOOD}.pdf"
    assert results[OTHER] == tmp_path / f"{OTHER}v1.pdf"
    assert isinstance(results["2501.99999"], FetchError) and "HTTP 404" in str(results["2501.99999"])
    assert isinstance(results["../x"], FetchError) and "not an arXiv id" in str(results["../x"])
    assert sorted(pid for pid, _, _ in done) == sorted(results)
    assert {name for _, _, name in done} == {threading.current_thread().name}
    assert corpus_server.hits(PDF) == 1  # the duplicate is fetched once


def test_fetch_many_bounds_concurrency(corpus_server, tmp_path: Path) -> None:
    ids = ["2505.00212", "2501.12948", "2401.06066", "2501.12599"]
    for pid in ids:
        corpus_server.fault(f"/pdf/{pid}", "stall", stall_s=0.5)
    d, _ = downloader(corpus_server, tmp_path, concurrency=2, timeout_s=3)
    results = d.fetch_many([(pid, None) for pid in ids])
    assert all(isinstance(r, Path) for r in results.values())
    arrivals = sorted(r.time for r in corpus_server.requests)
    assert arrivals[1] - arrivals[0] < 0.4  # two at once...
    assert arrivals[2] - arrivals[0] >= 0.45  # ...and the third only when one is done


# ------------------------------------------------------------------------------------------------ helpers


def test_retry_after_parsing() -> None:
    now = dt.datetime(2025, 5, 7, 10, 0, 0, tzinfo=dt.UTC)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after("Wed, 07 May 2025 10:00:30 GMT", now) == 30.0
    assert parse_retry_after("Wed, 07 May 2025 09:00:00 GMT", now) == 0.0
    for bad in (None, "", "soon", "-3", "inf", "nan"):
        assert parse_retry_after(bad, now) is None


def test_backoff_doubles_and_is_capped() -> None:
    s = IngestSettings(backoff_s=1.0, max_backoff_s=5.0)
    assert [backoff_delay(n, s) for n in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert backoff_delay(0, s, retry_after=3.0) == 3.0
    assert backoff_delay(0, s, retry_after=99.0) == 5.0
