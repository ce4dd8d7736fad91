"""qa.select: ask's ranking of the candidate sentences of its retrieved passages."""

from __future__ import annotations

import pytest

from footnote.settings import Settings
from index.archive import Archive
from index.retrieve import Query, Retriever
from qa.select import (
    ASKS_RATIO,
    CAUSE,
    SIZE,
    STATES_RATIO,
    WEIGHTS,
    WHY,
    _bm25,
    _reciprocal_ranks,
    counted,
    headings_above,
    rank_sentences,
    states_count,
)


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


@pytest.mark.parametrize(
    ("question", "answer", "repeats_the_name"),
    [
        (
            "What additional reward does DeepSeek-Prover-V2 use early in RL training, and what does it penalize?",
            "we incorporate a consistency reward in the early steps of training",
            "we perform the same reinforcement learning stage",
        ),
        (
            "Which policy optimization method does Kimi k1.5 use for long-CoT RL?",
            "employ a variant of online mirror descent for robust policy optimization",
            "TECHNICAL REPORT OF KIMI K1.5",  # the title block
        ),
    ],
)
def test_the_names_of_the_papers_a_question_names_do_not_count_as_exact_matches(
    archive, question, answer, repeats_the_name
):
    """Every sentence of the named paper is about its name; counted as an exact match, the name lifts the
    sentences that spell it out (the title block, the overview) above the one that answers. Without it the
    answer ranks among the first two and gains on the sentence that repeats the name (the two can end up a
    few ten-thousandths apart, above or below each other depending on the CPU's arithmetic: bf16 or int8
    vectors move the pool's order)."""
    retriever = Retriever(archive)
    query = Query(question, k=archive.settings.qa.pool, route=True)
    pool = retriever.search(query)
    named = retriever.named(query)
    assert named is not None and len(named.paper_ids) == 1

    def place(ranked, phrase):
        return next(i for i, c in enumerate(ranked) if phrase in c.text)

    def lead(ranked) -> float:
        """How far the answer's score is ahead of the name-repeating sentence's."""
        return ranked[place(ranked, answer)].score - ranked[place(ranked, repeats_the_name)].score

    with_names = rank_sentences(archive, question, pool)
    assert place(with_names, repeats_the_name) < place(with_names, answer)  # premise
    without = rank_sentences(archive, question, pool, named)
    assert place(without, answer) < 2
    assert lead(without) > lead(with_names) + 0.01


@pytest.mark.parametrize(
    ("question", "asks_why"),
    [
        ("Why does DeepSeekMoE 16B keep a dense first layer?", True),
        ("Which base model did they fine-tune, and why that one?", True),
        ("What does Kimi-Audio do with enhanced audio, and why?", True),
        ("How does MiMo alleviate sparse rewards?", False),
        ("What is the Whyte notation used for?", False),
    ],
)
def test_a_question_asks_why_in_any_of_its_clauses(question, asks_why):
    assert bool(WHY.search(question)) is asks_why


def test_the_cause_words():
    stating = [
        "This inadequacy stems from the limited attention parameters.",
        "Thus, we randomly choose original or enhanced audio.",
        "We select it as our base model due to its capability in mathematics.",
        "We attribute this gap to the smaller vocabulary.",
    ]
    assert all(CAUSE.search(s) for s in stating)
    assert not any(CAUSE.search(s) for s in ["Since 2023, models grew.", "It is as large as GPT-4.", "Thusly."])


@pytest.mark.parametrize(
    ("question", "reason"),
    [
        (
            "Why did Kimi-Audio not pre-train on speech-enhanced audio only?",
            "Thus, we randomly choose original or enhanced audio",
        ),
        (
            "Why is DeepSeekMoE 16B weaker than DeepSeek 7B on multiple-choice benchmarks?",
            "stems from the limited attention parameters",
        ),
    ],
)
def test_a_why_question_ranks_the_sentence_that_states_the_cause(archive, question, reason, monkeypatch):
    """The sentences that share most words with a why-question restate what it asks about; the one that gives
    the reason ranks among the first five (the k an answer quotes; 4th with fp32 vectors, 1st-3rd with bf16 or
    int8) with the cause signal; without it, it ranks sixth or lower, or is no passage's best sentence."""
    retriever = Retriever(archive)
    query = Query(question, k=archive.settings.qa.pool, route=True)
    pool, named = retriever.search(query), retriever.named(query)

    def place(ranked):
        return next((i for i, c in enumerate(ranked) if reason in c.text), None)

    assert (found := place(rank_sentences(archive, question, pool, named))) is not None and found < 5
    monkeypatch.setitem(WEIGHTS, "cause", 0.0)
    without = place(rank_sentences(archive, question, pool, named))
    assert without is None or without >= 5


@pytest.mark.parametrize(
    ("question", "noun"),
    [
        ("How many task instances does SWE-smith contain?", "instances"),
        ("How many routed experts does each MoE layer of DeepSeek-V3 contain?", "experts"),
        ("About how many reasoning-related SFT samples did DeepSeek-R1 collect?", "samples"),
        ("What is the number of GPUs in each node?", "gpus"),
        ("How many hours of audio went into Kimi-Audio's pre-training data?", "hours"),
        ("What is the number of layers?", "layers"),  # the noun before the question mark
        ("How many queries?", "queries"),
        ("How many of the experts are shared?", "experts"),
        ("How many A100 GPU hours did it take?", "hours"),
        ("How many more problems does it solve?", "problems"),
        ("How many times faster is MoBA?", None),  # a ratio, not a count
        ("How does MiMo alleviate sparse rewards?", None),
        ("How many?", None),
    ],
)
def test_the_noun_a_how_many_question_counts(question, noun):
    assert counted(question) == noun


def test_a_count_is_a_number_just_before_the_noun():
    count = states_count("instances")
    assert count.search("we create a dataset of 50k instances sourced from 128 repositories")
    assert count.search("a dataset of 50k software engineering task instances")
    assert count.search("For 8,686 unique task instances")
    assert not count.search("We briefly review the format of a SWE-smith task instance.")
    assert not count.search("SWE-bench-2 instances")  # a name's number
    assert not count.search("128 repositories hold many more of these task instances")  # too far
    assert states_count("queries").search("each batch holds 32 queries") and states_count("queries").search("1 query")
    assert states_count("boxes").search("8 boxes") and states_count("classes").search("1 class")
    assert not states_count("news").search("3 new models")
    assert states_count("tokens").search("to achieve 2T training tokens")
    assert states_count("instances").search("a dataset of 50k+ task instances")
    assert not states_count("problems").search("PutnamBench 0 10 20 30 40 50 Number of Problems")  # an axis
    assert not states_count("problems").search("invoked with Pass@8192 on the remaining problems")


@pytest.mark.parametrize(
    ("question", "pages"),
    [
        (
            "How many problems are in ProverBench, the benchmark released with DeepSeek-Prover-V2?",
            {("2504.21801", 1), ("2504.21801", 3), ("2504.21801", 12), ("2504.21801", 13)},
        ),
        (
            "How many hours of audio went into Kimi-Audio's pre-training data?",
            {("2504.18425", 1), ("2504.18425", 6), ("2504.18425", 20)},
        ),
    ],
)
def test_a_how_many_question_ranks_a_sentence_that_states_the_count_first(archive, question, pages, monkeypatch):
    """bench/qa_eval.py's number questions: with the count signal the first sentence is one of the stating pages'
    (ask R@1 of the 153 number questions 75.2% -> 77.8%, abstention the same); without it, one of another page
    (for ProverBench, p. 8's table of "Problems solved by DeepSeek-Prover-V2-671B on the miniF2F benchmark"; for
    Kimi-Audio, the 1M hours of a later stage, p. 12). A plot's "0 10 20 30 40 50 Number of Problem" and
    "Pass@8192 on the remaining problems" count no problems (`states_count`)."""
    retriever = Retriever(archive)
    query = Query(question, k=archive.settings.qa.pool, route=True)
    pool, named = retriever.search(query), retriever.named(query)

    def first(ranked):
        return ranked[0].passage.chunk.paper_id, ranked[0].passage.chunk.page_start

    ranked = rank_sentences(archive, question, pool, named)
    assert first(ranked) in pages and states_count(counted(question)).search(ranked[0].text)
    monkeypatch.setitem(WEIGHTS, "count", 0.0)
    assert first(rank_sentences(archive, question, pool, named)) not in pages


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("How many times faster is MoBA than full attention at 1M tokens?", True),
        ("How much faster is MoBA than full attention?", True),
        ("What prefill speedup does MoBA reach at 1M tokens?", True),
        ("By what factor does MoBA cut attention time?", True),
        ("What is the speedup of MoBA over full attention?", True),
        ("What's the prefill speedup of MoBA?", True),
        ("How large is the speedup at 1M tokens?", True),
        ("How much less memory does it need?", False),  # an amount as often as a ratio ("3.2 GB less")
        ("How much cheaper is it to serve?", True),
        ("How many times is MoBA faster than full attention?", True),
        ("What is the overall prefill speedup?", True),
        ("What was the end-to-end speedup?", True),
        ("How much better is MoBA on MMLU?", False),  # a difference of points
        ("How much higher is the accuracy?", False),
        ("How many times as many tokens does it read?", True),
        ("How much more data did Kimi k1.5 use?", False),  # an amount
        ("How many times did the model fail?", False),  # a count of occasions
        ("What does MoBA speed up?", False),
    ],
)
def test_a_question_asks_for_a_ratio(question, asks):
    assert bool(ASKS_RATIO.search(question)) is asks


def test_a_ratio_is_a_number_with_x_times_or_fold():
    for text in (
        "a speedup ratio of up to 6.5x when",
        "16x reduction",
        "1.5× faster",
        "2 times faster",
        "a 3-fold cut",
    ):
        assert STATES_RATIO.search(text), text
    for text in (
        "8x A100 GPUs",
        "8x H800",
        "8x NVIDIA A100 GPUs",
        "8x GPUs",
        "1 −4096×12 1M",
        "384x384 images",
        "a 10 x 10 grid",
        "5-fold cross-validation",
        "Qwen2.5-7B",
        "x-axis",
    ):
        assert not STATES_RATIO.search(text), text


def test_a_ratio_question_ranks_the_sentence_that_states_a_ratio_first(archive, monkeypatch):
    """bench/qa_eval.py's speedup questions ("How much faster is MoBA than full attention when prefilling 1M
    tokens?"): with the ratio signal the first sentence states MoBA's 6.5x (p. 10); without it, its figure's
    caption or a sentence about the continual pre-training came first (number R@1 76.5% -> 79.1%, four questions,
    none lost)."""
    question = "How much faster is MoBA than full attention when prefilling 1M tokens with Llama-8B-1M?"
    retriever = Retriever(archive)
    query = Query(question, k=archive.settings.qa.pool, route=True)
    pool, named = retriever.search(query), retriever.named(query)
    ranked = rank_sentences(archive, question, pool, named)
    assert "6.5x" in ranked[0].text and ranked[0].passage.chunk.paper_id == "2502.13189"
    monkeypatch.setitem(WEIGHTS, "ratio", 0.0)
    assert "6.5x" not in rank_sentences(archive, question, pool, named)[0].text


def test_the_headings_above_a_numbered_section():
    sections = [
        "4.1.3. Hyper-Parameters",
        "5. Scaling up to DeepSeekMoE 16B",
        "5.1. Experimental Setup",
        "5.1.2. Hyper-Parameters",
        "5.2. Evaluations",
        "A. Overview",
        "A.1. Settings",
    ]
    assert headings_above("5.1.2. Hyper-Parameters", sections) == [
        "5. Scaling up to DeepSeekMoE 16B",
        "5.1. Experimental Setup",
    ]
    assert headings_above("A.1. Settings", sections) == ["A. Overview"]
    assert headings_above("5. Scaling up to DeepSeekMoE 16B", sections) == []  # top level: nothing above
    assert headings_above("Abstract", sections) == []
    assert SIZE.findall("How does DeepSeekMoE 16B or a 2.7B model compare with Qwen2.5-7B and 8x A100?") == [
        "16B",
        "2.7B",
    ]


@pytest.mark.parametrize(
    "question",
    [
        "What expert-level balance factor is used when training DeepSeekMoE 16B?",
        "Why does DeepSeekMoE 16B keep a dense FFN in the first layer instead of replacing it with an MoE layer?",
    ],
)
def test_a_question_naming_a_size_ranks_the_section_of_that_size_first(archive, question, monkeypatch):
    """DeepSeekMoE's 145B section (p. 21) repeats its 16B setup ("As in DeepSeekMoE 16B, we also substitute all
    FFNs except for the first layer ..."), naming 16B where the 16B section's own sentences (p. 15, under "5.
    Scaling up to DeepSeekMoE 16B") do not: the 145B passage ranked first. The heading above a section counts for
    a question that names a size (ask R@1 75.7% -> 77.7%, eight questions, one a place lower). Which passage of
    the 16B section ranks first depends on the vectors (p. 15's hyper-parameters with the int8 model this was
    measured with, p. 16's comparison with DeepSeek 7B in fp32 for the second question), so what is checked is
    the section."""
    retriever = Retriever(archive)
    query = Query(question, k=archive.settings.qa.pool, route=True)
    pool, named = retriever.search(query), retriever.named(query)
    sections = archive.catalog.paper("2401.06066").sections

    def under_16b(chunk) -> bool:
        return chunk.paper_id == "2401.06066" and "5. Scaling up to DeepSeekMoE 16B" in headings_above(
            chunk.section, sections
        )

    assert under_16b(rank_sentences(archive, question, pool, named)[0].passage.chunk)
    monkeypatch.setitem(WEIGHTS, "context", 0.0)
    first = rank_sentences(archive, question, pool, named)[0].passage.chunk
    assert not under_16b(first)
    assert first.section == "7.1. Experimental Setup"  # the 145B one (pp. 21-22), which repeats "DeepSeekMoE 16B"
