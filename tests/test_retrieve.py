"""index.retrieve over a real home (three papers, real embedder, Chroma and FTS5)."""

from __future__ import annotations

import re
import threading
import time

import pytest

from index.archive import Archive
from index.catalog import fts_terms
from index.retrieve import Query, Retriever
from tests.conftest import SMALL_SET, make_settings


@pytest.fixture(scope="module")
def archive(small_home):
    archive = Archive(make_settings(small_home))
    yield archive
    archive.close()


@pytest.fixture(scope="module")
def retriever(archive):
    return Retriever(archive)


@pytest.mark.parametrize(
    ("question", "paper_id", "number"),
    [
        ("What Pass@1 does DeepSeek-R1 reach on AIME 2024? 79.8", "2501.12948", "79.8"),
        ("random baseline agent-level accuracy 29.10 on hand crafted systems", "2505.00212", "29.10"),
        ("which method reaches 53.5% agent-level accuracy", "2505.00212", "53.5"),
        ("SWE-agent-LM-32B resolve rate 40.2% on SWE-bench Verified", "2504.21798", "40.2"),
    ],
)
def test_exact_number_ranks_a_chunk_holding_it_first(retriever, question, paper_id, number):
    passages = retriever.search(Query(question, k=5))
    top = passages[0]
    assert top.chunk.paper_id == paper_id
    assert number in top.chunk.text
    assert top.lexical is not None  # found by the words themselves, not only by meaning


def test_passages_are_real_ranked_and_unique(archive, retriever):
    passages = retriever.search(Query("reinforcement learning reward model for reasoning", k=8))
    assert len(passages) == 8
    scores = [p.score for p in passages]
    assert scores == sorted(scores, reverse=True)
    ids = [p.chunk.id for p in passages]
    assert len(set(ids)) == len(ids)
    stored = archive.catalog.chunks(ids)
    titles = {r.id: r.title for r in archive.papers()}
    for p in passages:
        assert stored[p.chunk.id] == p.chunk
        assert p.title == titles[p.chunk.paper_id]
        assert p.dense is not None or p.lexical is not None
        if p.dense is not None:
            assert -1.0 <= p.dense <= 1.0


def test_paper_filter_keeps_only_those_papers(retriever):
    question = "DeepSeek-R1 AIME 2024 Pass@1 79.8"
    unfiltered = retriever.search(Query(question, k=5))
    assert unfiltered[0].chunk.paper_id == "2501.12948"
    only = retriever.search(Query(question, k=5, paper_ids=["2505.00212"]))
    assert len(only) == 5 and {p.chunk.paper_id for p in only} == {"2505.00212"}
    two = retriever.search(Query(question, k=20, paper_ids=["2505.00212", "2504.21798"]))
    assert {p.chunk.paper_id for p in two} == {"2505.00212", "2504.21798"}
    assert retriever.search(Query(question, k=5, paper_ids=[])) == []
    assert retriever.search(Query(question, k=5, paper_ids=["9999.99999"])) == []


def test_date_filter_uses_the_papers_filing_date(archive, retriever):
    published = {r.id: r.published for r in archive.papers()}
    assert published == {"2505.00212": "2025-05-01", "2504.21798": "2025-04-01", "2501.12948": "2025-01-01"}
    since = retriever.search(Query("accuracy", k=10, since="2025-04-15"))
    assert since and {p.chunk.paper_id for p in since} == {"2505.00212"}
    window = retriever.search(Query("accuracy", k=30, since="2025-01-01", until="2025-04-30"))
    assert {p.chunk.paper_id for p in window} == {"2501.12948", "2504.21798"}
    assert retriever.search(Query("accuracy", k=5, until="2024-12-31")) == []


def test_references_are_left_out_by_default(retriever):
    entry = "Chateval: Towards better llm-based evaluators through multi-agent debate"
    default = retriever.search(Query(entry, k=10))
    assert default and not any(p.chunk.is_reference for p in default)
    assert not any("Chateval" in p.chunk.text for p in default)
    everything = retriever.search(Query(entry, k=10, exclude_kinds=()))
    assert everything[0].chunk.is_reference
    assert "Chateval: Towards better llm-based evaluators" in everything[0].chunk.text


@pytest.mark.parametrize("filters", [{"exclude_kinds": ("references",)}, {"include_kinds": ("references", "abstract")}])
def test_the_dense_filter_reads_the_catalog_and_agrees_with_chromas_metadata(archive, monkeypatch, filters):
    """The over-fetch of a filtered dense query is filtered on the catalog's paper and kind of each hit (Chroma
    then returns ids and distances only): the same chunks as with Chroma's own metadata; a hit the catalog does
    not know is left out."""
    store = archive.store
    assert store.lookup is not None
    vector = archive.query_vector("reinforcement learning with verifiable rewards")
    with_catalog = store.query(vector, 10, **filters)
    assert len(with_catalog) == 10
    with monkeypatch.context() as m:
        m.setattr(store, "lookup", None)
        assert store.query(vector, 10, **filters) == with_catalog
    first = with_catalog[0][0]
    lookup = store.lookup
    monkeypatch.setattr(store, "lookup", lambda ids: {i: v for i, v in lookup(ids).items() if i != first})
    assert first not in [cid for cid, _ in store.query(vector, 10, **filters)]


def test_every_paper_is_reachable(retriever):
    for paper_id in SMALL_SET:
        passages = retriever.search(Query("main contribution of this paper", k=3, paper_ids=[paper_id]))
        assert len(passages) == 3 and {p.chunk.paper_id for p in passages} == {paper_id}


@pytest.mark.parametrize("question", ["", "???", '"" OR NEAR( * AND', "the of and", "x" * 5000, "résumé → ∑ 6.5×"])
def test_odd_queries_do_not_break_search(retriever, question):
    passages = retriever.search(Query(question, k=3))
    assert len(passages) <= 3
    assert all(not p.chunk.is_reference for p in passages)


def test_dense_and_lexical_sides_run_at_once(archive, retriever, monkeypatch):
    # The dense query waits for the lexical one to start: run one after the other, it would wait in vain.
    lexical_started = threading.Event()
    dense_threads = []
    real_query, real_lexical = archive.store.query, archive.catalog.lexical_search

    def query(*args, **kwargs):
        dense_threads.append(threading.current_thread().name)
        assert lexical_started.wait(10), "the lexical side did not start while the dense side ran"
        return real_query(*args, **kwargs)

    def lexical_search(*args, **kwargs):
        lexical_started.set()
        return real_lexical(*args, **kwargs)

    monkeypatch.setattr(archive.store, "query", query)
    monkeypatch.setattr(archive.catalog, "lexical_search", lexical_search)
    passages = retriever.search(Query("What Pass@1 does DeepSeek-R1 reach on AIME 2024?", k=5))
    assert passages and passages[0].dense is not None and passages[0].lexical is not None
    assert dense_threads and all(name.startswith("footnote-dense") for name in dense_threads)


def test_a_failing_lexical_side_is_raised_after_the_dense_side_ends(archive, retriever, monkeypatch):
    dense_done = threading.Event()
    real_query = archive.store.query

    def query(*args, **kwargs):
        time.sleep(0.2)
        try:
            return real_query(*args, **kwargs)
        finally:
            dense_done.set()

    def lexical_search(*args, **kwargs):
        raise RuntimeError("FTS5 is gone")

    monkeypatch.setattr(archive.store, "query", query)
    monkeypatch.setattr(archive.catalog, "lexical_search", lexical_search)
    with pytest.raises(RuntimeError, match="FTS5 is gone"):
        retriever.search(Query("reward model", k=5))
    assert dense_done.is_set()  # no query left running behind the error


def test_empty_archive_finds_nothing(tmp_path):
    archive = Archive(make_settings(tmp_path / "home"))
    try:
        assert Retriever(archive).search(Query("reinforcement learning", k=5)) == []
    finally:
        archive.close()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the word after "how" says what kind of answer is wanted: "large" would match every "large-scale"
        ("How large is the final curated set?", ['"final"', '"curated"', '"final curated"', '"set"', '"curated set"']),
        ("How many tokens?", ['"tokens"']),
        ("how long", []),
        # elsewhere it is a word like any other
        ("a large-scale run", ['"large scale"', '"run"', '"large scale run"']),
        ("large batch size", ['"large"', '"batch"', '"large batch"', '"size"', '"batch size"']),
        (
            "Qwen2.5-7B scores 79.8, a 6.5× speedup",
            '"qwen2 5 7b" "scores" "qwen2 5 7b scores" "79 8" "scores 79 8" "6 5" "6 5x" "speedup" "6 5 speedup"',
        ),
    ],
)
def test_lexical_terms(text, expected):
    expected = expected if isinstance(expected, list) else re.findall(r'"[^"]*"', expected)
    assert fts_terms(text, pairs=True) == expected


def test_past_the_row_budget_chunks_holding_all_three_rarest_terms_come_first(archive, monkeypatch):
    """Past the row budget (here made tiny, so that three papers exceed it) lexical search looks for the chunks
    holding all three of the query's rarest terms first, then for those holding two of them."""
    catalog = archive.catalog
    monkeypatch.setattr(type(catalog), "LEXICAL_ROW_BUDGET", 50)
    query = "failure attribution of the decisive error step by agents"
    terms = fts_terms(query)
    plan = catalog._lexical_plan(terms)
    assert [fills for *_, fills in plan] == [True, False, False]
    anchors = plan[0][0].split(" AND ")
    assert len(anchors) == 3 and set(anchors) <= set(terms)
    found = [cid for cid, _ in catalog.lexical_search(query, 20)]
    assert len(found) == 20

    def holding(expression: str) -> set[str]:
        return {cid for cid, _ in catalog._bm25(expression, 10_000, ["c.kind != 'references'"], [])}

    every, two = holding(plan[0][0]), holding(plan[1][0])
    assert 0 < len(every) < 20  # so the pairs are searched too
    assert set(found[: len(every)]) == every  # every chunk with all three first
    assert set(found) <= every | two
