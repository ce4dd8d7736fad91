"""qa.select: ask's ranking of the candidate sentences of its retrieved passages."""

from __future__ import annotations

import pytest

from footnote.settings import Settings
from index.archive import Archive
from index.retrieve import Query, Retriever
from qa.select import _bm25, _reciprocal_ranks, rank_sentences


@pytest.fixture(scope="module")
def archive(corpus_home):
    a = Archive(Settings(home=corpus_home))
    yield a
    a.close()


def test_reciprocal_ranks_leave_out_what_a_signal_gives_nothing():
    assert _reciprocal_ranks([0.0, 2.0, 5.0, -1.0]) == [0.0, 1 / 12, 1 / 11, 0.0]


def test_sentence_bm25_stems_and_weighs_rare_words_most():
    texts = [
        "The reward is sparse for hard code problems.",  # "rewards" and "problems" match by their stems
        "We train on code and on text.",
        "Nothing in common here at all.",
    ]
    scores = _bm25("How are sparse rewards for code problems alleviated?", texts)
    assert scores[0] > scores[1] > 0 and scores[2] == 0


def test_the_answering_sentence_outranks_the_top_passage(archive):
    """The chunk that states MiMo's remedy ranks low in retrieval; its sentence ranks among the first five."""
    question = "How does MiMo alleviate sparse rewards for code problems during RL?"
    pool = Retriever(archive).search(Query(question, k=archive.settings.qa.pool, route=True))
    ranked = rank_sentences(archive, question, pool)
    assert len({c.passage.chunk.id for c in ranked}) == len(ranked)  # one sentence per passage
    assert [c.score for c in ranked] == sorted((c.score for c in ranked), reverse=True)
    first = next(i for i, c in enumerate(ranked) if "sparse" in c.text and "reward" in c.text and "code" in c.text)
    assert first < 5
    assert pool.index(ranked[first].passage) > first  # it rose above its passage's retrieval rank
