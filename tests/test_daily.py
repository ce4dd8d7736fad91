"""The Hugging Face daily list: parsing the real samples, and fetching from a real local server."""

from __future__ import annotations

import copy
import json
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from footnote.errors import DailyListError, InvalidDateError
from footnote.settings import IngestSettings
from ingest.daily import fetch_daily, parse_daily
from tests.httpserver import HF_API, Raw

EXCERPT = json.loads((HF_API / "daily_papers_2024-10-25_excerpt.json").read_text())
ERROR_BODY = json.loads((HF_API / "deepdiver_papers.json_api_error_response.json").read_text())
EXCERPT_IDS = ["2410.17243", "2410.16251", "2410.16429", "2410.18647", "2410.18234"]


def settings(server, **overrides) -> IngestSettings:
    values = {"hf_base_url": server.base_url, "timeout_s": 0.5, "backoff_s": 0.01, "max_backoff_s": 5.0}
    return IngestSettings(**(values | overrides))


# ------------------------------------------------------------------------------------------------ parse_daily


def test_parse_raw_api_excerpt() -> None:
    entries = parse_daily(EXCERPT, "sample")
    assert [e.id for e in entries] == EXCERPT_IDS
    first = entries[0]
    # The raw title is "Breaking the Memory Barrier: Near Infinite Batch Size Scaling for\n  Contrastive Loss".
    assert first.title == "Breaking the Memory Barrier: Near Infinite Batch Size Scaling for Contrastive Loss"
    assert first.upvotes == 64
    assert first.published_at == "2024-10-22T17:59:30.000Z"
    assert first.authors[:2] == ("Zesen Cheng", "Hang Zhang")
    assert first.version is None
    assert first.abstract.startswith("Contrastive loss is a powerful approach for representation learning, where large")
    assert entries[1].title == "Can Knowledge Editing Really Correct Hallucinations?"
    assert [e.upvotes for e in entries] == [64, 41, 2, 2, 2]
    for entry in entries:
        assert "\n" not in entry.title and "  " not in entry.title
        assert "\n" not in entry.abstract and len(entry.abstract) > 200
        assert entry.authors and all(a.strip() == a and a for a in entry.authors)


def test_parse_real_error_body() -> None:
    with pytest.raises(DailyListError, match=r"^src: .*Sorry, we can't find the page"):
        parse_daily(ERROR_BODY, "src")


def test_parse_rejects_a_scraped_list_that_is_not_the_api_shape() -> None:
    scraped = json.loads((HF_API / "averkij_top_papers_2025-05-07_subset.json").read_text())
    with pytest.raises(DailyListError, match="expected a JSON list of papers, got a JSON dict"):
        parse_daily(scraped, "scraped")


def test_parse_skips_bad_ids_with_a_warning_and_deduplicates(caplog: pytest.LogCaptureFixture) -> None:
    payload = copy.deepcopy(EXCERPT)
    evil = copy.deepcopy(EXCERPT[0])
    evil["paper"]["id"] = "../../x"
    payload.insert(1, evil)
    duplicate = copy.deepcopy(EXCERPT[0])
    duplicate["paper"]["upvotes"] = 999
    payload.append(duplicate)  # the first occurrence wins
    with caplog.at_level(logging.WARNING, logger="ingest.daily"):
        entries = parse_daily(payload, "src")
    assert [e.id for e in entries] == EXCERPT_IDS
    assert entries[0].upvotes == 64
    assert any("../../x" in r.getMessage() for r in caplog.records)


def test_parse_defaults_and_versions() -> None:
    item = copy.deepcopy(EXCERPT[2])
    paper = item["paper"]
    paper["id"] = "2410.16429v3"
    del paper["upvotes"], paper["publishedAt"]
    paper["authors"][0]["hidden"] = True
    (entry,) = parse_daily([item], "src")
    assert (entry.id, entry.version, entry.upvotes, entry.published_at) == ("2410.16429", 3, 0, None)
    assert entry.authors[0] == "Leni Aniva"  # hidden authors are kept


def test_parse_empty_and_junk() -> None:
    assert parse_daily([], "src") == []
    with pytest.raises(DailyListError, match=r"no item of the list has a paper\.id"):
        parse_daily([{"title": "x"}, 3, "y"], "src")
    with pytest.raises(DailyListError, match="got a JSON str"):
        parse_daily("hello", "src")


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["paper", "id", "error", "x"]), inner),
    max_leaves=20,
)


@given(_json)
def test_parse_never_fails_with_anything_but_daily_list_error(payload: object) -> None:
    try:
        entries = parse_daily(payload, "src")
    except DailyListError as exc:
        assert "\n" not in str(exc)
    else:
        assert isinstance(entries, list) and len({e.id for e in entries}) == len(entries)


# ------------------------------------------------------------------------------------------------ fetch_daily


def test_fetch_daily_from_the_server(corpus_server) -> None:
    corpus_server.daily["2024-10-25"] = EXCERPT
    entries = fetch_daily("2024-10-25", settings(corpus_server))
    assert [e.id for e in entries] == EXCERPT_IDS
    assert [r.path for r in corpus_server.requests] == ["/api/daily_papers?date=2024-10-25"]


def test_fetch_daily_empty_day(corpus_server) -> None:
    corpus_server.daily["2024-12-25"] = []
    assert fetch_daily("2024-12-25", settings(corpus_server)) == []


@pytest.mark.parametrize("bad", ["2025-13-40", "../x", "2025-02-30", "20250101", ""])
def test_bad_dates_make_no_request(corpus_server, bad: str) -> None:
    with pytest.raises(InvalidDateError):
        fetch_daily(bad, settings(corpus_server))
    assert corpus_server.requests == []


def test_error_body_with_http_404_is_not_retried(corpus_server) -> None:
    sleeps: list[float] = []
    with pytest.raises(DailyListError) as info:
        fetch_daily("2024-10-26", settings(corpus_server), sleep=sleeps.append)  # unset date: 404 + error body
    message = str(info.value)
    assert message == (
        f"HTTP 404 from {corpus_server.base_url}/api/daily_papers?date=2024-10-26: "
        "Sorry, we can't find the page you are looking for."
    )
    assert corpus_server.hits("/api/daily_papers") == 1 and sleeps == []


def test_error_body_with_http_200(corpus_server) -> None:
    corpus_server.daily["2024-10-25"] = ERROR_BODY
    with pytest.raises(DailyListError, match=r"daily_papers\?date=2024-10-25: .*Sorry, we can't find"):
        fetch_daily("2024-10-25", settings(corpus_server))


def test_non_json_and_wrong_shape(corpus_server) -> None:
    corpus_server.daily["2024-10-25"] = Raw(b"<html><body>maintenance</body></html>")
    with pytest.raises(DailyListError, match=r"response is not JSON \(got text/html"):
        fetch_daily("2024-10-25", settings(corpus_server))
    corpus_server.daily["2024-10-25"] = {"papers": []}
    with pytest.raises(DailyListError, match="expected a JSON list"):
        fetch_daily("2024-10-25", settings(corpus_server))


def test_429_retry_after_is_honoured(corpus_server) -> None:
    corpus_server.daily["2024-10-25"] = EXCERPT
    corpus_server.fault("/api/daily_papers", "429", retry_after=2).fault("/api/daily_papers", "503")
    sleeps: list[float] = []
    entries = fetch_daily("2024-10-25", settings(corpus_server), sleep=sleeps.append)
    assert len(entries) == 5
    assert sleeps == [2.0, 0.02]  # Retry-After, then backoff_s * 2**1
    assert corpus_server.hits("/api/daily_papers") == 3


def test_server_errors_exhaust_the_retries(corpus_server) -> None:
    corpus_server.daily["2024-10-25"] = EXCERPT
    corpus_server.fault("/api/daily_papers", "500", times=3)
    sleeps: list[float] = []
    with pytest.raises(DailyListError, match=r"HTTP 500 \(gave up after 3 tries\)"):
        fetch_daily("2024-10-25", settings(corpus_server, retries=2), sleep=sleeps.append)
    assert sleeps == [0.01, 0.02]
    assert corpus_server.hits("/api/daily_papers") == 3


def test_stall_times_out_then_recovers(corpus_server) -> None:
    corpus_server.daily["2024-10-25"] = EXCERPT
    corpus_server.fault("/api/daily_papers", "stall", stall_s=2)
    entries = fetch_daily("2024-10-25", settings(corpus_server, timeout_s=0.3), sleep=lambda s: None)
    assert len(entries) == 5 and corpus_server.hits("/api/daily_papers") == 2
