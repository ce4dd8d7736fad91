"""Network faults, end to end: a whole day ingested by the real `footnote` command through a fault-injecting
server on 127.0.0.1 (the daily list and every PDF), then the day's digest; plus the daily-list faults the unit
tests in test_daily.py do not cover (cut bodies, redirects, a body over the size cap).

Unit-level download faults (each alone, with recorded sleeps) are in test_download.py; this file checks that
they do not interfere with each other inside one run: bounded retries, one clear line per failed paper, no
partial file in the cache, the rest of the day done, and nothing fetched twice.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from footnote.errors import DailyListError
from footnote.settings import IngestSettings
from index.archive import Archive
from ingest.daily import fetch_daily
from tests.conftest import make_settings

DAY = "2025-05-07"
DAILY = "/api/daily_papers"
SCRIPT = Path(sys.executable).with_name("footnote")
RETRIES = 3  # so a fault queued 4 times fails every try
MAX_PDF_MB = 4

# Real corpus papers that get through after transient faults.
RATE_LIMITED = "2502.13189"  # 429 with Retry-After, then 503, then served
CUT_OFF = "2501.17811"  # reset mid-body, then truncated, then served
GOOD = (RATE_LIMITED, CUT_OFF)

# Ids the server does not hold: every try hits its fault (then 404 once the faults are used up).
# id -> (faults queued, [kind, times, options], words the one-line error must contain, requests expected)
BAD: dict[str, tuple[list[tuple[str, int, dict]], tuple[str, ...], int]] = {
    "2505.90001": ([("500", 4, {})], ("HTTP 500", "gave up after 4 tries"), 4),
    "2505.90002": ([("502", 1, {}), ("503", 1, {}), ("502", 1, {}), ("503", 1, {})], ("HTTP 503", "gave up"), 4),
    "2505.90003": ([("429", 4, {})], ("HTTP 429", "gave up after 4 tries"), 4),  # no Retry-After
    "2505.90004": ([("reset", 4, {})], ("connection failed", "gave up"), 4),
    "2505.90005": ([("truncate", 4, {})], ("connection failed", "gave up"), 4),
    "2505.90006": ([("stall", 4, {"stall_s": 3.0})], ("timed out after 1s", "gave up"), 4),
    "2505.90007": ([("html", 1, {})], ("not a PDF", "text/html"), 1),
    "2505.90008": ([("redirect_loop", 1, {})], ("redirect loop",), 1),
    "2505.90009": ([("redirect_chain", 1, {})], ("more than 5 redirects",), 1),
    "2505.90010": ([("redirect", 4, {"to": "http://[::1"})], ("Invalid URL in location header", "gave up"), 4),
    "2505.90011": ([("huge", 1, {})], (f"larger than {MAX_PDF_MB} MiB", "Content-Length"), 1),
    "2505.90012": ([("huge", 1, {"stream": True, "size": 64 << 20})], (f"larger than {MAX_PDF_MB} MiB", "stopped"), 1),
    "2505.90013": ([("404", 1, {})], ("HTTP 404",), 1),
}


def daily_item(paper_id: str, title: str, upvotes: int = 1) -> dict:
    return {
        "paper": {
            "id": paper_id,
            "title": title,
            "authors": [{"name": "A. Author"}],
            "summary": f"The daily list's abstract of {title}.",
            "upvotes": upvotes,
            "publishedAt": f"{DAY}T12:00:00.000Z",
        }
    }


def env_for(server, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FOOTNOTE_", "OPENAI_"))}
    env.update(
        FOOTNOTE_HOME=str(home),
        FOOTNOTE_HF_BASE_URL=server.base_url,
        FOOTNOTE_ARXIV_BASE_URL=server.base_url,
        FOOTNOTE_TIMEOUT_S="1",
        FOOTNOTE_RETRIES=str(RETRIES),
        FOOTNOTE_BACKOFF_S="0.02",
        FOOTNOTE_MAX_BACKOFF_S="0.5",
        FOOTNOTE_MAX_PDF_MB=str(MAX_PDF_MB),
        FOOTNOTE_CONCURRENCY="4",
    )
    return env


def footnote(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


def pdf_hits(server, paper_id: str) -> int:
    return server.hits(f"/pdf/{paper_id}")


@pytest.fixture
def day(corpus_server, tmp_path):
    """The day's list on the server: the two good papers first, then every faulty id."""
    corpus_server.daily[DAY] = [daily_item(pid, f"Paper {pid}", n) for n, pid in enumerate([*GOOD, *BAD], 1)]
    return tmp_path / "home"


def queue_faults(server) -> None:
    server.fault(DAILY, "503").fault(DAILY, "reset")  # the list itself needs two retries
    server.fault(f"/pdf/{RATE_LIMITED}", "429", retry_after=0.4).fault(f"/pdf/{RATE_LIMITED}", "503")
    server.fault(f"/pdf/{CUT_OFF}", "reset").fault(f"/pdf/{CUT_OFF}", "truncate")
    for paper_id, (faults, _words, _hits) in BAD.items():
        for kind, times, options in faults:
            server.fault(f"/pdf/{paper_id}", kind, times=times, **options)


def test_a_faulty_day_is_ingested_then_digested(corpus_server, day, tmp_path):
    home = day
    env = env_for(corpus_server, home)
    queue_faults(corpus_server)

    started = time.monotonic()
    first = footnote("ingest", "--date", DAY, "--json", env=env, cwd=tmp_path)
    took = time.monotonic() - started
    assert first.returncode == 1, first.stderr
    assert "Traceback" not in first.stderr + first.stdout
    report = json.loads(first.stdout)

    # the rest of the day is done
    assert sorted(report["ingested"]) == sorted(GOOD)
    assert report["skipped"] == []
    # one clear, one-line error per failed paper, naming it and the reason
    failed = {f["source"]: f["error"] for f in report["failed"]}
    assert sorted(failed) == sorted(BAD)
    for paper_id, (_faults, words, _hits) in BAD.items():
        error = failed[paper_id]
        assert paper_id in error and "\n" not in error and len(error) < 400, error
        for word in words:
            assert word in error, (paper_id, error)
        naming = [line for line in first.stderr.splitlines() if paper_id in line]
        assert len(naming) == 1 and naming[0].startswith("failed: "), first.stderr
    # bounded retries: exactly the tries each fault deserves, never more
    for paper_id, (_faults, _words, hits) in BAD.items():
        assert pdf_hits(corpus_server, paper_id) == hits, paper_id
    assert pdf_hits(corpus_server, RATE_LIMITED) == 3 and pdf_hits(corpus_server, CUT_OFF) == 3
    assert corpus_server.hits(DAILY) == 3
    # Retry-After was honoured (0.4 s), the backoff after it was the short exponential one
    times = [r.time for r in corpus_server.requests if r.path == f"/pdf/{RATE_LIMITED}"]
    assert times[1] - times[0] >= 0.35
    assert took < 120, f"the faulty day took {took:.0f}s: retries are not bounded"

    # no partial or foreign file in the cache: only the two papers, byte for byte
    cache = home / "pdfs"
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{pid}.pdf" for pid in GOOD)
    for paper_id in GOOD:
        assert (cache / f"{paper_id}.pdf").read_bytes() == corpus_server.pdf_bytes(paper_id)
    # the archive holds exactly the good papers, complete, Chroma and SQLite agreeing
    archive = Archive(make_settings(home))
    try:
        records = archive.catalog.papers(complete_only=False)
        assert sorted((r.id, r.status) for r in records) == sorted((pid, "complete") for pid in GOOD)
        for record in records:
            assert record.title == f"Paper {record.id}" and record.published == DAY  # filed from the daily list
            assert set(archive.store.ids(record.id)) == {c.id for c in archive.catalog.chunks_of(record.id)}
        assert archive.store.count() == archive.catalog.chunk_count() == sum(r.chunks for r in records) > 0
    finally:
        archive.close()

    # The digest of the same day: the list is fetched again, nothing is downloaded twice, the failed papers
    # stay in the digest with their reason and the list's abstract, and the digest is written.
    before = {pid: pdf_hits(corpus_server, pid) for pid in GOOD}
    digest = footnote("digest", DAY, "--lang", "en", "--generator", "extractive", "--json", env=env, cwd=tmp_path)
    assert digest.returncode == 0, digest.stderr
    assert "Traceback" not in digest.stderr
    assert {pid: pdf_hits(corpus_server, pid) for pid in GOOD} == before
    doc = json.loads(digest.stdout)
    papers = {p["id"]: p for p in doc["papers"]}
    assert list(papers) == [*GOOD, *BAD]  # the list's order, nobody dropped
    for paper_id in GOOD:
        assert papers[paper_id]["status"] == "ok"
        assert papers[paper_id]["grounding"]["statements"] >= 5
    for paper_id in BAD:
        paper = papers[paper_id]
        assert paper["status"] == "failed" and paper["abstract_only"] is True
        assert paper["error"] and paper_id in paper["error"] and "\n" not in paper["error"]
        assert paper["abstract"] == f"The daily list's abstract of Paper {paper_id}."
    markdown = (home / "digests" / f"{DAY}.en.md").read_text(encoding="utf-8")
    assert markdown.count("Status: failed") == len(BAD)
    assert json.loads((home / "digests" / f"{DAY}.en.json").read_text(encoding="utf-8")) == doc
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{pid}.pdf" for pid in GOOD)


# ------------------------------------------------------------------------------------------- the daily list alone


def settings(server, **overrides) -> IngestSettings:
    values = {"hf_base_url": server.base_url, "timeout_s": 1.0, "backoff_s": 0.01, "max_backoff_s": 0.5}
    return IngestSettings(**(values | overrides))


@pytest.fixture
def listed(corpus_server):
    corpus_server.daily[DAY] = [daily_item(pid, f"Paper {pid}") for pid in GOOD]
    return corpus_server


@pytest.mark.parametrize("kind", ["reset", "truncate", "500", "502", "503"])
def test_daily_list_cut_or_failing_once_is_retried(listed, kind):
    listed.fault(DAILY, kind)
    sleeps: list[float] = []
    entries = fetch_daily(DAY, settings(listed), sleep=sleeps.append)
    assert [e.id for e in entries] == list(GOOD)
    assert listed.hits(DAILY) == 2 and sleeps == [0.01]


def test_daily_list_429_without_retry_after_backs_off_exponentially(listed):
    listed.fault(DAILY, "429", times=3)
    sleeps: list[float] = []
    with pytest.raises(DailyListError, match=r"HTTP 429 \(gave up after 3 tries\)") as info:
        fetch_daily(DAY, settings(listed, retries=2), sleep=sleeps.append)
    assert sleeps == [0.01, 0.02] and listed.hits(DAILY) == 3
    assert "\n" not in str(info.value)


def test_daily_list_redirect_is_followed(listed):
    listed.fault(DAILY, "redirect", to=f"{DAILY}?date={DAY}")
    assert [e.id for e in fetch_daily(DAY, settings(listed))] == list(GOOD)
    assert listed.hits(DAILY) == 2


def test_daily_list_redirect_loop_is_an_error(listed):
    listed.fault(DAILY, "redirect_loop")
    with pytest.raises(DailyListError, match="redirect") as info:
        fetch_daily(DAY, settings(listed), sleep=lambda s: None)
    assert listed.hits("/loop/a") + listed.hits("/loop/b") <= 30  # bounded, not retried forever
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("stream", [False, True], ids=["content-length", "streamed"])
def test_daily_list_over_the_size_cap_is_refused(listed, stream):
    listed.fault(DAILY, "huge", stream=stream, size=64 << 20)
    sleeps: list[float] = []
    started = time.monotonic()
    with pytest.raises(DailyListError, match=r"daily list larger than 1 MiB \(ingest.max_daily_mb\)") as info:
        fetch_daily(DAY, settings(listed, max_daily_mb=1), sleep=sleeps.append)
    assert time.monotonic() - started < 10
    assert ("stopped after" if stream else "Content-Length 67108864") in str(info.value)
    assert listed.hits(DAILY) == 1 and sleeps == []  # a size refusal is not retried
    # the default cap takes the real list
    assert [e.id for e in fetch_daily(DAY, settings(listed))] == list(GOOD)


def test_daily_list_stall_past_the_timeout_every_time_fails_in_bounded_time(listed):
    listed.fault(DAILY, "stall", times=3, stall_s=5)
    started = time.monotonic()
    with pytest.raises(DailyListError, match=r"timed out after 0.3s \(gave up after 3 tries\)"):
        fetch_daily(DAY, settings(listed, timeout_s=0.3, retries=2), sleep=lambda s: None)
    assert time.monotonic() - started < 4
