"""Conversations (qa.session): a follow-up is searched with what the earlier turn was about, and every turn is
stored under the home."""

from __future__ import annotations

import json

import pytest

from footnote.errors import FootnoteError
from footnote.settings import Settings
from index.archive import Archive
from qa.session import Session, Turn, ask_in_session, load, resolve_offline, standalone_query


@pytest.fixture(scope="module")
def archive(corpus_home):
    a = Archive(Settings(home=corpus_home))
    yield a
    a.close()


def test_a_follow_up_carries_the_earlier_question_offline(archive, corpus_home):
    first = ask_in_session(archive, "What pass@1 score does DeepSeek-R1 achieve on AIME 2024?", "lib-1")
    assert not first.abstained
    follow = ask_in_session(archive, "and how does that compare with Kimi k1.5?", "lib-1")
    assert "DeepSeek-R1" in follow.query and "AIME" in follow.query and "Kimi k1.5" in follow.query
    cited = {c.paper_id for s in follow.statements for c in s.citations}
    assert cited & {"2501.12948", "2501.12599"}, follow.to_json()
    stored = json.loads((corpus_home / "sessions" / "lib-1.json").read_text())
    assert [t["question"] for t in stored["turns"]] == [first.question, follow.question]
    assert load(corpus_home, "lib-1").turns[1].query == follow.query


def test_a_new_question_is_searched_as_asked():
    session = Session("s", [Turn("What optimizer does Moonlight use?", "What optimizer does Moonlight use?", "Muon")])
    assert resolve_offline("Which tokenizer does Kimi-Audio use?", session) == "Which tokenizer does Kimi-Audio use?"
    assert standalone_query("What is MoBA?", None) == "What is MoBA?"
    assert standalone_query("MoBA는 무엇인가?", None) == "MoBA는 무엇인가?"  # offline: no rewriting without an LLM


def test_a_bad_session_name_is_one_clear_error(archive):
    with pytest.raises(FootnoteError, match="not a session name"):
        ask_in_session(archive, "What is MoBA?", "../x")


def test_an_english_question_pasted_from_a_pdf_is_not_rewritten_as_another_language(scripted_llm):
    """LaTeX's math letters are not ASCII: a question pasted from a PDF was sent to the LLM to be translated."""
    from footnote.llm import LLMClient

    client = LLMClient(scripted_llm.settings())
    question = "Why activate the top-𝐾out of 𝑁experts?"
    assert standalone_query(question, None, client) == question
    assert client.rewrite_query(question, []) == question
    assert scripted_llm.requests == []
