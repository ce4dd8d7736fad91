"""`footnote ask`: verified answers across the archive, and abstention when the archive does not say."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import replace

import pytest

from footnote.llm import LLMClient
from footnote.settings import Settings
from footnote.types import Chunk, Passage
from index.archive import Archive
from index.retrieve import Query, Retriever
from qa.abstain import mentions, support, unnamed
from qa.ask import NOT_FOUND, _distinct, across_papers, ask, relevant
from qa.select import Candidate, rank_sentences
from summarize.verify import extract_numbers, numbers_in
from tests.digest_checks import on_page


@pytest.fixture(scope="module")
def archive(corpus_home):
    a = Archive(Settings(home=corpus_home))
    yield a
    a.close()


def check_answer(answer, paper_pdf) -> None:
    for statement in answer.statements:
        assert statement.citations
        quotes = " ".join(c.quote for c in statement.citations)
        numbers = extract_numbers(statement.text)
        assert len(numbers_in(numbers, quotes)) == len(numbers)
        for c in statement.citations:
            assert on_page(c.quote, paper_pdf(c.paper_id), c.page)


def test_answers_with_verified_citations(archive, paper_pdf):
    answer = ask(archive, "What speedup does MoBA achieve when prefilling 1M tokens?")
    assert not answer.abstained
    check_answer(answer, paper_pdf)
    assert any(c.paper_id == "2502.13189" for s in answer.statements for c in s.citations)


@pytest.mark.parametrize(
    "question",
    [
        "What is the boiling point of water on Mars?",
        "Which recipe for sourdough bread do the authors recommend?",
        # about papers in the archive, asking for what they never state: the passages found are close in meaning
        "How many seconds does DeepSeek-Prover-V2 take on average to generate one proof?",
        "Under which licence are the Janus-Pro model weights released?",
        # the archive names Grok 3 (in a benchmark table) and gives parameter counts (of other models), but no
        # passage says both: what the question asks for must be said of what it is about
        "How many parameters does Grok 3 have?",
        # Moonlight is in the Muon paper, GPQA Diamond and SWE-bench Verified in other papers' tables: a score from
        # one of those tables is some other model's
        "What does Moonlight score on GPQA Diamond?",
        "What does Kimi-Audio score on SWE-bench Verified?",
        # the k passages give other models' vocabulary sizes, and MiniMax-M1's passages below them never say it:
        # when they mention none of the question's names, none is looked for below them
        "What is the vocabulary size of MiniMax-M1's tokenizer?",
    ],
)
def test_abstains_when_the_archive_does_not_say(archive, question):
    answer = ask(archive, question)
    assert answer.abstained and answer.text == NOT_FOUND and not answer.statements
    assert answer.note  # why, for --json users


@pytest.mark.parametrize(
    "question",
    [
        "How many GPU hours did the full training of DeepSeek-V3 take?",
        "Which vision encoder does Janus-Pro use for multimodal understanding?",
        # the passages never spell out "Moonlight": the Muon paper's abstract names its model so
        "After comparing ways to control Muon's update RMS across matrices of different shapes, which method did "
        "the Moonlight authors keep for later experiments?",
        "What does MiniMax-M1 score on AIME 2024?",
        # several things side by side: each may be stated in a paper of its own
        "How does Kimi k1.5 compare with DeepSeek-R1?",
        "What do DeepSeek-V3 and MiniMax-M1 use for attention?",
    ],
)
def test_answers_what_the_archive_does_say_in_the_same_form(archive, question):
    assert not ask(archive, question).abstained


def test_either_of_two_names_given_for_one_thing_will_do(archive):
    """A name in parentheses is another name for the one before it: the archive has no "Sunshot" at all."""
    question = "Which text LLM was the Sunshot audio model (Kimi-Audio) initialized from?"
    answer = ask(archive, question)
    assert not answer.abstained
    assert any(c.paper_id == "2504.18425" for s in answer.statements for c in s.citations)
    assert ask(archive, "Which text LLM was the Sunshot audio model initialized from?").abstained


def test_a_labs_name_may_begin_its_handle_on_the_title_page(archive):
    """The Kimi-Audio paper says "MoonshotAI" only, in its GitHub URL; "the Moonshot audio model" is that paper's."""
    catalog = archive.catalog
    assert not catalog.names_any("Moonshot", ["2504.18425"])  # premise: not as a word of its own
    assert catalog.names_any("Moonshot", ["2504.18425"], prefix=True)
    # a word that goes on in lower case is another word: Kimi k1.5's title says "Reinforcement"
    assert catalog.names_any("Reinforcement", ["2501.12599"])
    assert not catalog.names_any("Reinforce", ["2501.12599"], prefix=True)
    answer = ask(archive, "Why does the Moonshot audio model mix enhanced and original audio in pre-training?")
    assert not answer.abstained
    assert answer.statements[0].citations[0].paper_id == "2504.18425"


def test_names_of_a_question_about_one_thing_must_meet_in_one_paper(archive):
    question = "What does Moonlight score on GPQA Diamond?"
    assert not archive.catalog.has_phrase("GPQA Diamond", archive.catalog.chunk_ids(["2502.16982"]))  # premise
    answer = ask(archive, question)
    assert answer.note == 'no paper among the best passages mentions "Moonlight" and "GPQA Diamond" together'
    assert support(archive.catalog, question, answer.judged).apart == ["Moonlight", "GPQA Diamond"]
    # the same passages, for a follow-up that carries an earlier question's names: each name is found, apart
    assert support(archive.catalog, question, answer.judged, together=False).ok
    assert not ask(archive, question, follow_up=True).abstained


def test_an_extractive_answer_quotes_the_best_sentence_of_up_to_k_passages(archive, paper_pdf):
    """The MiMo remedy is stated in a chunk that retrieval ranks low; ask chooses among its whole pool."""
    answer = ask(archive, "How does MiMo alleviate sparse rewards for code problems during RL?", k=4)
    check_answer(answer, paper_pdf)
    assert 1 <= len(answer.statements) <= 4
    chunks = [c.chunk_id for s in answer.statements for c in s.citations]
    assert len(chunks) == len(set(chunks)) == len(answer.statements)  # one statement per passage
    assert len(answer.passages) == archive.settings.qa.pool
    assert any("test difficulty" in s.text.lower().replace("-", " ") for s in answer.statements)


def test_a_question_about_which_papers_quotes_each_of_them_before_any_twice(archive, paper_pdf):
    """ "Which papers report a resolve rate on SWE-bench Verified?" quoted SWE-smith five times: MiniMax-M1,
    DeepSeek-V3 and DeepSeek-R1 report one too (bench/questions.json m06: 1 of 5 papers found, now 4)."""
    question = "Which papers report a resolve rate on SWE-bench Verified?"
    answer = ask(archive, question)
    check_answer(answer, paper_pdf)
    papers = [c.paper_id for s in answer.statements for c in s.citations]
    assert len(set(papers)) >= 3, papers
    assert {"2504.21798", "2412.19437", "2506.13585"} <= set(papers)
    # Within one paper the question asks nothing across papers.
    one = ask(archive, question, paper_ids=["2504.21798"])
    assert {c.paper_id for s in one.statements for c in s.citations} == {"2504.21798"}


@pytest.mark.parametrize(
    ("question", "across"),
    [
        ("Which papers use GRPO?", True),
        ("Which of the audio-capable models initialize part of their audio front end from Whisper?", True),
        ("What pretraining recipes weight the MTP loss at 0.3?", True),
        ("Which model reaches 86.7 on AIME 2024?", False),
        ("What papers", True),
        ("How many experts does DeepSeek-V3 activate per token?", False),
    ],
)
def test_which_questions_ask_across_papers(question, across):
    assert across_papers(question) is across


def test_across_papers_each_papers_best_candidate_comes_first():
    def candidate(paper: str, n: int) -> Candidate:
        text = f"Sentence {n} of paper {paper}."
        chunk = Chunk(paper, 1, 1, "Results", "results", 0, len(text), text, id=f"{paper}-{n}")
        return Candidate(Passage(chunk, 1.0, None, None, paper), text, 1.0)

    def ids(chosen: list[Candidate]) -> list[str]:
        return [c.passage.chunk.id for c in chosen]

    ranked = [candidate("a", 1), candidate("a", 2), candidate("b", 1), candidate("a", 3), candidate("c", 1)]
    assert ids(_distinct(ranked, 3)) == ["a-1", "a-2", "b-1"]
    assert ids(_distinct(ranked, 3, across=True)) == ["a-1", "b-1", "c-1"]
    assert ids(_distinct(ranked, 5, across=True)) == ["a-1", "b-1", "c-1", "a-2", "a-3"]
    # Only among the best ACROSS_WINDOW × k candidates: a paper further down waits its turn.
    many = [candidate("a", n) for n in range(1, 7)] + [candidate("b", 1)]
    assert ids(_distinct(many, 2, across=True)) == ["a-1", "a-2"]
    assert ids(_distinct(many, 3, across=True)) == ["a-1", "b-1", "a-2"]


def test_a_number_in_a_name_does_not_lift_every_passage_naming_it(archive, paper_pdf):
    """The 7B of "MiMo-7B" is the model's name: as a number to match exactly it would lift every MiMo-7B chunk
    above the one that answers, which names the model nowhere."""
    question = "How does MiMo-7B deduplicate the web pages of its pre-training data?"
    # without routing (which also leaves out the numbers of the names that route), only query_numbers does it
    top = Retriever(archive).search(Query(question, k=5))
    assert any("MinHash" in p.chunk.text and "7B" not in p.chunk.text for p in top)
    answer = ask(archive, question)
    check_answer(answer, paper_pdf)
    assert any((c.paper_id, c.page) == ("2505.07608", 5) for s in answer.statements for c in s.citations)


def test_abstention_judges_the_passages_the_answer_comes_from(archive, paper_pdf):
    """The passages retrieval ranks first repeat "DeepSeek-Prover-V2" and "RL" but never say "reward"; the one
    that answers ranks lower in the pool, and its sentence ranks first: it is what ask quotes and judges. (Asked
    "... so that final proofs include all the decomposed lemmas?" until line-end hyphens were kept: its first
    passages then said enough to be judged relevant on their own, and the case was no longer this one.)"""
    question = (
        "What additional reward does DeepSeek-Prover-V2 use early in RL so that generated proofs follow the lemma "
        "decomposition?"
    )
    answer = ask(archive, question)
    k, threshold = archive.settings.qa.k, archive.settings.qa.abstain_below
    assert not relevant(archive.catalog, question, answer.passages[:k], threshold, answer.passages)[0]  # premise
    check_answer(answer, paper_pdf)
    assert "consistency reward" in answer.statements[0].text
    assert [p.chunk.id for p in answer.judged] == [c.chunk_id for s in answer.statements for c in s.citations]


@pytest.mark.parametrize(
    ("question", "paper", "name"),
    [
        # (Three models, "... DeepSeek-V3, MiniMax-M1 and Seed1.5-Thinking ...", was the first case until line-end
        # hyphens were kept: "Seed1.5-Thinking" is now spelled so in its paper's passages, one of them is among
        # the k best, and the answer names all three without looking below.)
        # one paper: its prose about the model ranks above the flattened table that names the benchmark
        (
            "What F1 score did o1-mini reach on MR-GSM8K in O1 Replication Journey Part 1?",
            "2410.18982",
            "MR-GSM8K",
        ),
    ],
)
def test_a_name_the_k_passages_lack_is_looked_for_below_them(archive, paper_pdf, question, paper, name):
    k = archive.settings.qa.k
    retriever, query = Retriever(archive), Query(question, k=archive.settings.qa.pool, route=True)
    pool = retriever.search(query)
    first = [c.passage for c in _distinct(rank_sentences(archive, question, pool, retriever.named(query)), k)]
    assert name in [" ".join(run) for run in unnamed(archive.catalog, question, first)]  # premise
    answer = ask(archive, question)
    assert not answer.abstained
    check_answer(answer, paper_pdf)
    # it takes the last place: an answer still comes from k passages
    assert [p.chunk.id for p in answer.judged[: k - 1]] == [p.chunk.id for p in first[: k - 1]]
    assert len(answer.judged) == k and answer.judged[-1].chunk.paper_id == paper
    assert mentions(archive.catalog, name.split(), answer.judged[-1])
    cited = [c.chunk_id for s in answer.statements for c in s.citations]
    assert len(answer.statements) <= k and cited[-1] == answer.judged[-1].chunk.id


def test_closeness_is_judged_on_the_whole_pool(archive):
    """The passages an answer quotes may be lexical matches far from the question in meaning; whether the archive
    holds anything close is its closest passage, among the whole pool."""
    question = "What speedup does MoBA achieve when prefilling 1M tokens?"
    pool = ask(archive, question).passages
    far = [replace(p, dense=0.1) for p in pool[:5]]
    threshold = archive.settings.qa.abstain_below
    assert relevant(archive.catalog, question, far, threshold) == (
        False,
        f"the closest passage is too far from the question (similarity 0.10 < {threshold})",
    )
    assert relevant(archive.catalog, question, far, threshold, pool) == (True, "")


def test_paper_filter_limits_citations(archive, paper_pdf):
    answer = ask(archive, "How is failure attribution evaluated?", paper_ids=["2505.00212"])
    check_answer(answer, paper_pdf)
    assert {c.paper_id for s in answer.statements for c in s.citations} <= {"2505.00212"}


def test_date_filter_excludes_everything_outside(archive):
    answer = ask(archive, "What speedup does MoBA achieve when prefilling 1M tokens?", since="2030-01-01")
    assert answer.abstained and not answer.passages


def test_llm_answer_is_verified(archive, scripted_llm, paper_pdf):
    scripted_llm.default = lambda req: {
        "not_found": False,
        "statements": [
            {"text": "MoBA is 40× faster than everything.", "cites": [1]},
            {"text": "MoBA speeds up prefilling.", "cites": [1, 77]},
        ],
    }
    answer = ask(
        archive, "What speedup does MoBA achieve when prefilling 1M tokens?", llm=LLMClient(scripted_llm.settings())
    )
    check_answer(answer, paper_pdf)
    assert [s.text for s in answer.statements] == ["MoBA speeds up prefilling."]
    assert answer.grounding.dropped == 1
    user = scripted_llm.requests[0]["messages"][-1]["content"]
    assert user.startswith("Question: What speedup") and "[1] (p. " in user
    # The reply's shape goes out as a JSON schema, not_found optional, citations among the passages sent.
    fmt = scripted_llm.requests[0]["response_format"]
    assert fmt["type"] == "json_schema"
    schema = fmt["json_schema"]["schema"]
    assert schema["required"] == ["statements"] and schema["properties"]["not_found"] == {"type": "boolean"}
    sent = len(re.findall(r"^\[\d+\] \(p\. ", user, flags=re.M))
    assert schema["properties"]["statements"]["items"]["properties"]["cites"]["items"]["maximum"] == sent >= 1


def test_cli_ask_json_and_session(corpus_home, tmp_path):
    def run(*args):
        proc = subprocess.run(
            [sys.executable, "-m", "footnote.cli", "--home", str(corpus_home), "ask", *args, "--json"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    first = run("What speedup does MoBA achieve when prefilling 1M tokens?", "--session", "t1")
    assert set(first) >= {"question", "answer", "abstained", "statements", "citations"}
    assert not first["abstained"] and first["citations"][0]["paper_id"] == "2502.13189"
    follow = run("and how does that compare with full attention?", "--session", "t1")
    assert "MoBA" in follow["query"]  # the follow-up carried the earlier question's entities
    session = json.loads((corpus_home / "sessions" / "t1.json").read_text())
    assert session["turns"][0]["question"].startswith("What speedup")
    assert len(session["turns"]) == 2


def test_cli_llm_rewrites_korean_questions_and_follow_ups(corpus_home, scripted_llm):
    """With an LLM, a Korean question is searched as the model's English rewrite, and a follow-up is rewritten
    with the earlier turn in the prompt; the answer is still verified against the passages."""

    def reply(request: dict) -> dict:
        system, user = request["messages"][0]["content"], request["messages"][-1]["content"]
        if system.startswith("Rewrite"):
            if "Conversation:" in user:
                return {"query": "MoBA prefill speedup compared with full attention at 1M tokens"}
            return {"query": "What speedup does MoBA achieve when prefilling 1M tokens?"}
        blocks = re.split(r"\n\n(?=\[\d+\] \(p\. )", user.split("Passages:\n", 1)[1])
        cite = next(int(re.match(r"\[(\d+)\]", b).group(1)) for b in blocks if "6.5x" in b)
        return {
            "not_found": False,
            "statements": [
                {"text": "MoBA reaches a speedup of up to 6.5x when prefilling 1M tokens.", "cites": [cite]}
            ],
        }

    scripted_llm.default = reply
    llm = scripted_llm.settings()
    env = {
        **os.environ,
        "FOOTNOTE_LLM_BASE_URL": llm.base_url,
        "FOOTNOTE_LLM_MODEL": llm.model,
        "FOOTNOTE_LLM_API_KEY": "sk-test-not-a-real-key",
    }

    def run(question):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "footnote.cli",
                "--home",
                str(corpus_home),
                "ask",
                question,
                "--session",
                "ko-llm",
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    first = run("MoBA는 100만 토큰을 프리필할 때 속도가 얼마나 빨라지나요?")
    assert first["generator"] == "llm" and not first["abstained"]
    assert first["query"] == "What speedup does MoBA achieve when prefilling 1M tokens?"
    assert scripted_llm.requests[0]["messages"][-1]["content"].startswith("MoBA는")
    assert [(c["paper_id"], c["page"]) for c in first["citations"]] == [("2502.13189", 10)]
    assert "6.5x" in first["citations"][0]["quote"]

    follow = run("그럼 full attention과 비교하면?")
    rewrite = scripted_llm.requests[2]["messages"][-1]["content"]
    assert "Conversation:" in rewrite and "MoBA는 100만 토큰" in rewrite
    assert rewrite.endswith("그럼 full attention과 비교하면?")
    assert follow["query"] == "MoBA prefill speedup compared with full attention at 1M tokens"
    assert follow["statements"] and follow["citations"][0]["paper_id"] == "2502.13189"


@pytest.mark.slow
def test_ask_against_a_real_local_model(archive, local_llm, paper_pdf):
    """SmolLM2-135M invents numbers: whatever it says, what survives is verified, or the answer abstains."""
    client = LLMClient(local_llm.settings(max_tokens=160), llama_cpp=True)
    answer = ask(archive, "What speedup does MoBA achieve when prefilling 1M tokens?", k=3, llm=client)
    check_answer(answer, paper_pdf)
    assert answer.generator in ("llm", "extractive")  # extractive only after an LLM failure, with the reason
    if answer.generator == "extractive":
        assert answer.note.startswith("LLM failed")
    assert answer.abstained == (not answer.statements)
    assert answer.grounding.statements == len(answer.statements)


def test_an_abstention_says_what_the_passages_lack(archive):
    assert ask(archive, "How many parameters does Grok 3 have?").note == (
        'the passages about "Grok 3" never mention "parameters"'
    )
    # no passage names AlphaFold 3: that alone is the reason (its focus words are not looked for)
    assert ask(archive, "What learning rate was used to train AlphaFold 3?").note == (
        'the best passages never mention "AlphaFold 3"'
    )


def test_overlapping_passages_each_give_a_sentence_not_yet_quoted():
    """Neighbouring chunks share sentences; the second gives its next best one instead of dropping out (and a
    passage with nothing new is skipped), so the k passages judged are the k quoted."""

    def candidate(cid: str, score: float, *texts: str) -> Candidate:
        chunk = Chunk("2502.13189", 1, 1, "1 Intro", "introduction", 0, 10, " ".join(texts), cid)
        return Candidate(Passage(chunk, score), texts[0], score, texts[1:])

    ranked = [
        candidate("a", 0.9, "Shared sentence one.", "Only in a."),
        candidate("b", 0.8, "Shared sentence one.", "Only in b."),
        candidate("c", 0.7, "Shared sentence one."),
        candidate("d", 0.6, "Only in d."),
    ]
    chosen = _distinct(ranked, 3)
    assert [(c.passage.chunk.id, c.text) for c in chosen] == [
        ("a", "Shared sentence one."),
        ("b", "Only in b."),
        ("d", "Only in d."),
    ]


def test_what_is_asked_for_must_be_said_of_what_it_is_about(archive):
    """ "What is the vocabulary size of MiniMax-M1's tokenizer?": DeepSeekMoE's passages give its vocabulary
    sizes, and MiniMax-M1's title page (which says "context size") is among the passages judged on some CPUs: the
    names and the numbers are there, and what is asked for is not said of MiniMax-M1 (CI once answered it with
    DeepSeekMoE's 8K and 100K)."""
    catalog = archive.catalog

    def passage(paper_id, phrase):
        cid = next(c for c in catalog.chunk_ids([paper_id]) if catalog.has_phrase(phrase, [c]))
        return Passage(catalog.chunks([cid])[cid], 1.0)

    title_page = passage("2506.13585", "We introduce MiniMax-M1")
    vocabulary = passage("2401.06066", "vocabulary size")
    assert catalog.has_phrase("size", [title_page.chunk.id])  # the premise: half of "vocabulary size" is there
    assert not catalog.has_phrase("vocabulary", [title_page.chunk.id])
    found = support(catalog, "What is the vocabulary size of MiniMax-M1's tokenizer?", [vocabulary, title_page])
    assert not found.ok and found.missing_focus == ["vocabulary"] and found.focus_about == ["MiniMax-M1"]
    assert found.reason() == 'the passages about "MiniMax-M1" never mention "vocabulary"'
    # asked of DeepSeekMoE, the same passages answer
    assert support(catalog, "What is the vocabulary size of DeepSeekMoE's tokenizer?", [vocabulary, title_page]).ok


def test_a_name_in_parts_may_have_a_part_on_the_title_page(archive):
    """ "the Moonshot Muon report": Moonshot (the lab) is on the Muon paper's title page, Muon in the passage. A
    passage that says neither part does not mention the name, though its title page holds both; and a part with a
    number is never taken from a title page: Part 2's cites "Part 1"."""
    catalog = archive.catalog

    def passage(paper_id, has, lacks):
        ids = catalog.chunk_ids([paper_id])
        cid = next(
            c for c in ids if all(catalog.has_phrase(h, [c]) for h in has) and not catalog.has_phrase(lacks, [c])
        )
        return Passage(catalog.chunks([cid])[cid], 1.0)

    assert not catalog.names_any("Moonshot Muon", ["2502.16982"])  # the premise: not as one phrase
    assert catalog.names_any("Moonshot", ["2502.16982"]) and catalog.names_any("Muon", ["2502.16982"])
    question = "Why did the Moonshot Muon report add weight decay?"
    assert not support(catalog, question, [passage("2502.16982", ["Muon"], "Moonshot")]).missing_names
    assert support(catalog, question, [passage("2502.16982", [], "Muon")]).missing_names == ["Moonshot Muon"]
    assert support(
        catalog, "Why did the Moonshot Lion report add weight decay?", [passage("2502.16982", ["Muon"], "Moonshot")]
    ).missing_names
    part_two = passage("2411.16489", ["O1 Replication Journey"], "Part 1")
    assert catalog.names_any("Part 1", ["2411.16489"])  # the premise: Part 2's title page cites Part 1
    question = "What learning rate did O1 Replication Journey Part 1 use?"
    assert support(catalog, question, [part_two]).missing_names == ["O1 Replication Journey Part 1"]


def test_a_name_made_an_adjective_or_negated_may_be_said_alone(archive):
    """ "Why did MiniMax-M1 replace PPO/GRPO-style token clipping ...?": its paper says "GRPO", never "GRPO-style"."""
    catalog = archive.catalog
    cid = next(c for c in catalog.chunk_ids(["2506.13585"]) if catalog.has_phrase("GRPO", [c]))
    passage = Passage(catalog.chunks([cid])[cid], 1.0)
    assert not catalog.has_phrase("GRPO style", [cid])  # premise
    assert mentions(catalog, ["GRPO-style"], passage) and mentions(catalog, ["GRPO-based"], passage)
    assert not mentions(catalog, ["AlphaFold-style"], passage)
    assert not mentions(catalog, ["GRPO-free"], passage)  # not an adjective of the name
    # "no-CoT guessing attempts": Kimi k1.5 prompts a model "to guess potential answers without any CoT reasoning steps"
    cid = next(c for c in catalog.chunk_ids(["2501.12599"]) if catalog.has_phrase("without any CoT", [c]))
    passage = Passage(catalog.chunks([cid])[cid], 1.0)
    assert not catalog.has_phrase("no CoT", [cid])  # premise
    assert mentions(catalog, ["no-CoT"], passage) and not mentions(catalog, ["no-RLHF"], passage)


def test_a_name_of_plain_words_is_not_found_word_by_word(archive):
    """A Who&When prompt asks the model to analyse "a segment of a multi-agent conversation" and to say
    "anything": the two words of "Segment Anything" are there, apart, and the name is not. A name of plain words
    needs a part that is more than one of them (two words together, a word like "R1", or its paper's title page)."""
    catalog = archive.catalog
    cid = next(c for c in catalog.chunk_ids(["2505.00212"]) if catalog.has_phrase("segment of a multi agent", [c]))
    prompts = Passage(catalog.chunks([cid])[cid], 1.0)
    assert catalog.has_phrase("anything", [cid]) and not catalog.has_phrase("segment anything", [cid])  # premise
    question = "What prompt encoder does the Segment Anything Model use?"
    assert support(catalog, question, [prompts]).missing_names == ["Segment Anything"]
    # a part that is a name itself still does: "DeepSeek" (and the plain "Zero") apart in one passage
    apart = next(
        c
        for c in catalog.chunk_ids(["2501.12948"])
        if catalog.has_phrase("DeepSeek", [c])
        and catalog.has_phrase("zero", [c])
        and not catalog.has_phrase("DeepSeek zero", [c])
    )
    passage = Passage(catalog.chunks([apart])[apart], 1.0)
    assert not support(catalog, "What did DeepSeek Zero reach?", [passage]).missing_names


def test_a_name_of_several_words_may_be_written_as_one(archive):
    """Open-Reasoner-Zero cites "https://github.com/huggingface/Math-Verify" beside its use of Math-Verify."""
    catalog = archive.catalog
    cid = next(c for c in catalog.chunk_ids(["2503.24290"]) if catalog.has_phrase("github com huggingface", [c]))
    passage = Passage(catalog.chunks([cid])[cid], 1.0)
    assert not catalog.has_phrase("Hugging Face", [cid])  # premise
    question = "Which papers use the Hugging Face Math-Verify library?"
    assert not support(catalog, question, [passage]).missing_names
    assert support(catalog, "Which papers use the Hugging Face Lean-Verify library?", [passage]).missing_names


def test_a_sentence_keeps_the_name_it_shares_with_its_section(archive):
    """In 2502.16982's section "Distributed Muon", ask printed "has larger end-to-end latencies than Distributed
    AdamW ...": the section's name was cut off every sentence that began with it, not only off the heading."""
    answer = ask(
        archive, "What is the latency of Distributed Muon compared with Distributed AdamW?", paper_ids=["2502.16982"]
    )
    texts = [s.text for s in answer.statements]
    assert texts and all(t[:1].isupper() or t[:1].isdigit() for t in texts), texts
    assert any(t.startswith("Distributed Muon has larger end-to-end latencies") for t in texts), texts
