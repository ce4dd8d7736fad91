"""index.route: a question that names a paper's model or method is searched within that paper too."""

from __future__ import annotations

import pytest

from footnote.settings import Settings
from index.archive import Archive
from index.retrieve import Query, Retriever
from index.route import MAX_NAMED, Route, route


@pytest.fixture(scope="module")
def archive(corpus_home):
    a = Archive(Settings(home=corpus_home))
    yield a
    a.close()


@pytest.mark.parametrize(
    ("question", "paper_id", "words"),
    [
        ("How does MiMo alleviate sparse rewards for code problems during RL?", "2505.07608", {"mimo"}),
        ("Which optimizer does Moonlight scale up?", "2502.16982", {"moonlight"}),  # named in the abstract only
        ("Which base model did O1 Replication Journey Part 2 fine-tune?", "2411.16489", None),
    ],
)
def test_a_name_on_a_title_page_or_in_an_abstract_routes_to_that_paper(archive, question, paper_id, words):
    named = route(archive.catalog, question)
    assert named is not None and named.paper_ids == (paper_id,)
    if words is not None:
        assert named.words == words


def test_a_name_that_runs_on_routes_by_its_longest_start_that_names_a_paper(archive):
    """ "Seed1.5-Thinking RL" is one run of names; no title page says it, but "Seed1.5-Thinking" names one paper."""
    assert archive.catalog.papers_naming("Seed1.5-Thinking RL", MAX_NAMED + 1) == []  # the premise
    named = route(archive.catalog, "Which tricks keep the Seed1.5-Thinking RL training stable?")
    assert named is not None and named.paper_ids == ("2504.13914",)
    assert named.words == {"seed1", "5", "thinking"}


def test_a_number_stays_with_the_word_before_it_and_the_title_picks_the_part(archive):
    """ "O1 Replication Journey Part 1": its title reads "... Journey: A Strategic Progress Report - Part 1", so no
    title page holds the whole run. "... Journey Part" (without its 1) names only Part 2's, whose title says "Journey
    - Part 2"; "O1 Replication Journey" names both parts, and of those the title holding every word is Part 1's."""
    catalog = archive.catalog
    assert catalog.papers_naming("O1 Replication Journey Part 1", MAX_NAMED + 1) == []  # the premise
    assert catalog.papers_naming("O1 Replication Journey Part", MAX_NAMED + 1) == ["2411.16489"]
    assert sorted(catalog.papers_naming("O1 Replication Journey", MAX_NAMED + 1)) == ["2410.18982", "2411.16489"]
    named = route(catalog, "What did O1 Replication Journey Part 1 propose instead of shortcut learning?")
    assert named is not None and named.paper_ids == ("2410.18982",)
    assert named.words == {"o1", "replication", "journey"}


def test_a_name_that_many_papers_carry_routes_nowhere(archive):
    assert len(archive.catalog.papers_naming("DeepSeek-R1", MAX_NAMED + 1)) > MAX_NAMED  # the premise
    assert route(archive.catalog, "What does DeepSeek-R1 score on AIME 2024?") is None
    assert route(archive.catalog, "How is attention computed?") is None  # no names at all


def test_routing_keeps_to_the_allowed_papers(archive):
    question = "How does MiMo alleviate sparse rewards for code problems during RL?"
    assert route(archive.catalog, question, allowed=["2502.13189"]) is None
    assert route(archive.catalog, question, allowed=["2505.07608"]).paper_ids == ("2505.07608",)


def test_the_rest_of_the_question_drops_only_the_routing_names():
    named = Route(("2505.07608",), frozenset({"mimo", "7b"}))
    assert named.rest("How does MiMo-7B's code reward alleviate sparse rewards?") == (
        "How does code reward alleviate sparse rewards?"
    )


def test_routing_lifts_the_passage_that_answers(archive):
    """The abstract that states MoBA's "less structure" principle ranks below the chunks that repeat "MoBA"
    most; searched within the MoBA paper without the name, it comes up (bench/questions.json f19)."""
    question = "What design principle does MoBA follow in deciding where to attend?"

    def rank(route_it: bool) -> int:
        passages = Retriever(archive).search(Query(question, k=50, route=route_it))
        return next(i for i, p in enumerate(passages) if "less structure" in p.chunk.text)

    assert rank(True) < rank(False)
    assert rank(True) < archive.settings.qa.pool  # within what ask chooses its sentences from


def test_ask_routes_its_question_once(archive, monkeypatch):
    """ask searches (which routes) and then ranks sentences with the names left out (which needs the route):
    the catalog is asked once, and both see the same papers."""
    import index.retrieve
    from qa.ask import ask

    calls = []

    def counted(catalog, text, allowed=None):
        calls.append(text)
        return route(catalog, text, allowed)

    monkeypatch.setattr(index.retrieve, "route", counted)
    answer = ask(archive, "Which base model did O1 Replication Journey Part 2 fine-tune?")
    assert len(calls) == 1 and not answer.abstained
