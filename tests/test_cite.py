"""`footnote cite`: the passage that states a number or claim comes first, with its page and quote."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from footnote.settings import Settings
from index.archive import Archive
from qa.cite import cite, claim_numbers, sentence_score, unknown_names
from summarize.verify import Sentence
from tests.digest_checks import on_page

# (query, paper, page): each checked by hand against the PDF.
CASES = [
    ("6.5×", "2502.13189", 10),
    ("speedup ratio of up to 6.5x when prefilling 1M tokens", "2502.13189", 10),
    ("19.13%", "2505.00212", 5),
    ("5,016 training points", "2504.21798", 6),
]


@pytest.fixture(scope="module")
def archive(corpus_home):
    a = Archive(Settings(home=corpus_home))
    yield a
    a.close()


@pytest.mark.parametrize(("query", "paper", "page"), CASES)
def test_exact_numbers_and_claims_rank_first(archive, paper_pdf, query, paper, page):
    matches = cite(archive, query, k=5)
    best = matches[0]
    assert (best.paper_id, best.page) == (paper, page), [(m.paper_id, m.page, m.quote[:60]) for m in matches]
    assert on_page(best.quote, paper_pdf(paper), page)
    assert best.span is not None
    start, end = best.span
    assert best.quote[start:end]


# A query that names the paper in words its sentences rarely repeat: the sentence that states it ("it achieves a
# speedup ratio of up to 6.5x when prefilling 1M tokens"; "original or enhanced audio with a ratio of 1 : 1") does
# not say "MoBA" or "Kimi-Audio", and ranked below ones that do until the title's words counted for every sentence
# of the paper.
NAMED_IN_WORDS = [
    ("MoBA prefill speedup at 1M tokens", "2502.13189", 10, "6.5x"),
    ("Kimi-Audio ratio of original and enhanced audio in pre-training", "2504.18425", 6, "1 : 1"),
]


@pytest.mark.parametrize(("query", "paper", "page", "says"), NAMED_IN_WORDS)
def test_the_papers_title_speaks_for_each_of_its_sentences(archive, query, paper, page, says):
    best = cite(archive, query, k=5)[0]
    assert (best.paper_id, best.page) == (paper, page) and says in best.quote, (best.page, best.quote[:80])
    assert query.split()[0] not in best.quote  # the premise: the stating sentence does not repeat the name


def test_a_name_in_the_papers_title_is_said_by_each_of_its_sentences(archive):
    """MiMo's "Like DeepSeek-R1-Zero, we also observe language mixing" spells the name out; the R1 paper's own
    sentence, "we introduce a language consistency reward", does not, and its title does."""
    best = cite(archive, "DeepSeek-R1 reward against language mixing", k=5)[0]
    assert (best.paper_id, best.page) == ("2501.12948", 10) and "language consistency reward" in best.quote
    assert "DeepSeek-R1" not in best.quote and "DeepSeek-R1" in best.title  # the premise


def test_title_words_count_for_the_sentence_but_not_twice():
    """A word of the query counts once, whether the sentence or its paper's title says it."""
    sentence = Sentence("we randomly choose original or enhanced audio with a ratio of 1 : 1", 6, 0)
    query = "Kimi-Audio speech enhancement ratio"
    plain = sentence_score(query, sentence)
    titled = sentence_score(query, sentence, "Kimi-Audio Technical Report")
    assert titled > plain
    assert sentence_score(query, Sentence("Kimi-Audio ratio", 6, 0), "Kimi-Audio") == sentence_score(
        query, Sentence("Kimi-Audio ratio", 6, 0)
    )


def test_the_number_of_a_name_is_the_names_not_the_claims(archive):
    """ "GPT-5 has 1.8T parameters": the 5 is GPT-5's, and "N = 5" or "0.855" once came back as if they stated it; the
    7B of "Qwen2.5-7B" marked the "7B" of "7B+ pure text models". A claim's numbers are those it states."""
    query = "GPT-5 has 1.8T parameters"
    assert sentence_score(query, Sentence("Hence we set N = 5 in this work.", 4, 0)) == sentence_score(
        query, Sentence("Hence we set N in this work.", 4, 0)
    )
    matches = cite(archive, query, k=5)
    assert matches
    for match in matches:
        assert match.numbers_found is False  # 1.8T, the one number the claim states, is in no paper
        assert match.span is None or match.quote[match.span[0] : match.span[1]] != "5"
    matches = cite(archive, "Qwen2.5-7B reaches 83.1 on GSM8K", k=5)
    assert matches
    for match in matches:
        assert match.span is None or match.quote[match.span[0] : match.span[1]] != "7B"
    # A version apart from its word is the name's too: the table states 67.2 under a header naming Gemini 2.5 Pro.
    gemini = cite(archive, "Gemini 2.5 Pro scores 67.2 on SWE-bench Verified", k=5)[0]
    assert (gemini.paper_id, gemini.page, gemini.numbers_found) == ("2506.13585", 13, True)
    assert gemini.quote[gemini.span[0] : gemini.span[1]] == "67.2"
    catalog = archive.catalog
    assert [n.text for n in claim_numbers(catalog, "AIME 2024 91.6")] == ["91.6"]
    assert [n.text for n in claim_numbers(catalog, "MoBA on MT-Bench 7.5")] == ["7.5"]  # a value, see below
    assert [n.text for n in claim_numbers(catalog, "DeepSeek-V3 routes to its top-9 experts")] == ["9"]
    # A value the archive prints after the name is no version ("MT-Bench 6.3" is in a table), and a value no paper
    # states is said to be missing.
    assert [n.text for n in claim_numbers(catalog, "MoBA on MT-Bench 6.3")] == ["6.3"]
    missing = cite(archive, "MoBA on MT-Bench 9.7", k=5)
    assert missing and all(m.numbers_found is False for m in missing)
    assert [n.text for n in claim_numbers(catalog, "Table 3 shows 42.1")] == ["42.1"]  # a reference
    assert [n.text for n in claim_numbers(catalog, "in Figure 3 MoBA reaches 6.5x")] == ["6.5x"]
    # Versions are the name's whichever papers are searched: the paper given writes "AIME24", not "AIME 2024".
    gemini_only = cite(archive, "Gemini 2.5 Pro scores 67.2 on SWE-bench Verified", k=1, paper_ids=["2506.13585"])
    assert gemini_only[0].numbers_found is True


def test_a_number_after_a_name_without_versions_is_a_value(archive):
    """ "MT-Bench 7.5" is a score (the corpus writes "MT-Bench 6.3" once), "Codeforces 2029" a rating; "Llama 5"
    and "AIME 2026" are versions the corpus lacks: it writes LLaMA2 and AIME 2024 again and again."""
    catalog = archive.catalog
    assert catalog.numbers_after("MT-Bench") == {"6.3": 1}
    assert catalog.numbers_after("AIME")["2024"] > 1
    assert catalog.numbers_after("Seed")["1.5"] > 1 and catalog.numbers_after("Kimi")["1.5"] > 1  # Seed1.5, k1.5
    assert "8" not in catalog.numbers_after("Llama")  # Llama-8B: a size, no version
    assert catalog.numbers_after("Pythia") == {}  # Pythia 2.8B, 6.9B: sizes, not versions 2 and 6
    assert unknown_names(catalog, "Pythia 6 is evaluated") == []
    assert catalog.numbers_after("MoBA", paper_ids=[]) == {}
    assert unknown_names(catalog, "MoBA on MT-Bench 7.5") == []
    assert unknown_names(catalog, "DeepSeek-R1 Codeforces 2029") == []
    assert unknown_names(catalog, "Llama 5 reaches 90% on MMLU") == ["Llama 5"]
    assert unknown_names(catalog, "AIME 2026 results of Kimi k1.5") == ["AIME 2026"]
    assert unknown_names(catalog, "Claude 5 beats o1") == ["Claude 5"]  # the corpus writes Claude 3.5 and 3.7
    assert unknown_names(catalog, "Seed 2.0 reaches 90.1 on AIME 2025") == ["Seed 2.0"]  # glued: Seed1.5
    assert unknown_names(catalog, "Kimi 2 achieves 65.8% on SWE-bench") == ["Kimi 2"]
    # Within the papers given (--paper), their own words: MoBA's paper never writes MT-Bench, and Open-Reasoner-Zero's
    # writes Llama 3 and Llama-3.1 once each (twice in all).
    assert unknown_names(catalog, "MoBA on MT-Bench 7.5", ["2502.13189"]) == ["MT-Bench 7.5"]
    assert unknown_names(catalog, "Llama 4 is the base model", ["2503.24290"]) == ["Llama 4"]


def test_a_claim_pasted_from_a_pdf_reads_as_the_archive_does(archive):
    """The archive writes LaTeX's math letters as letters; a claim copied from the PDF has them as the PDF does."""
    pasted = cite(archive, "activate the top-𝐾out of 𝑁experts", k=1)[0]
    assert (pasted.paper_id, pasted.page) == ("2401.06066", 1)
    assert pasted.quote[pasted.span[0] : pasted.span[1]] == "activate the top-K out of N experts"
    assert unknown_names(archive.catalog, "activate the top-𝐾out of 𝑁experts") == []


def test_paper_filter(archive):
    matches = cite(archive, "reinforcement learning", k=5, paper_ids=["2505.00212"])
    assert matches and {m.paper_id for m in matches} == {"2505.00212"}


def test_references_are_excluded(archive):
    for match in cite(archive, "Proceedings of the International Conference on Machine Learning", k=10):
        assert match.section.lower() not in ("references", "bibliography")


def test_cli_cite_json(corpus_home):
    proc = subprocess.run(
        [sys.executable, "-m", "footnote.cli", "--home", str(corpus_home), "cite", "6.5×", "-k", "3", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["query"] == "6.5×" and len(doc["matches"]) == 3
    first = doc["matches"][0]
    assert set(first) >= {"paper_id", "title", "page", "section", "quote", "score", "numbers_found"}
    assert first["paper_id"] == "2502.13189" and first["title"].upper().startswith("MOBA")
    assert first["numbers_found"] is True


def test_a_number_no_paper_states_is_said_to_be_missing(archive, corpus_home):
    """ "87.123%" is in no paper: the nearest passages (table rows of other numbers) came back looking like its
    sources. They still come back, each saying it lacks the number, and the text output says so first."""
    matches = cite(archive, "87.123%", k=3)
    assert matches and all(m.numbers_found is False for m in matches)
    claim = cite(archive, "MoBA achieves 99.9% on MMLU", k=3)
    assert claim and all(m.numbers_found is False for m in claim)
    half = cite(archive, "Kimi k1.5 achieves 99.9% on AIME 2024", k=5)  # 2024 is everywhere, 99.9% nowhere
    assert half and all(m.numbers_found is False for m in half)
    both = cite(archive, "speedup ratio of 6.5x when prefilling 1M tokens", k=1)[0]
    assert both.numbers_found is True
    assert all(m.numbers_found is None for m in cite(archive, "mixture of block attention", k=3))
    assert cite(archive, "6.5×", k=1)[0].numbers_found is True
    proc = subprocess.run(
        [sys.executable, "-m", "footnote.cli", "--home", str(corpus_home), "cite", "87.123%", "-k", "2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert (
        proc.stdout.splitlines()[0]
        == "No passage in the archive states the numbers of '87.123%'; the nearest passages:"
    )


def test_cli_paper_filter_takes_a_versioned_id_and_refuses_one_not_in_the_archive(corpus_home):
    from click.testing import CliRunner

    from footnote.cli import cli

    def run(command: str, *args: str):
        return CliRunner().invoke(cli, ["--home", str(corpus_home), command, *args], prog_name="footnote")

    found = run("cite", "6.5×", "--paper", "2502.13189v2", "-k", "1", "--json")
    assert found.exit_code == 0, found.output
    assert json.loads(found.output)["matches"][0]["paper_id"] == "2502.13189"
    for command in ("cite", "ask"):
        typo = run(command, "6.5×", "--paper", "2502.1318")
        assert typo.exit_code == 1
        assert typo.output.strip().splitlines() == [
            f"error: --paper '2502.1318': not in the archive at {corpus_home} (footnote papers lists what is)"
        ]


def test_a_claim_about_what_no_paper_names_says_so_first(archive, corpus_home):
    """ "GPT-5 has 1.8T parameters": no paper of the corpus mentions GPT-5, and the nearest passages (other models'
    parameter counts) came back as if they were its sources. They still come back, and the output says first that
    the archive never names it; a claim typed as keywords is not held against the archive for names no one passage
    strings together, nor one whose number sits in other words ("top-K 12": "top-k ... 12")."""
    catalog = archive.catalog
    assert unknown_names(catalog, "GPT-5 has 1.8T parameters") == ["GPT-5"]
    assert unknown_names(catalog, "Llama 4 Scout supports a 10M-token context") == ["Llama 4 Scout"]
    assert unknown_names(catalog, "Kimi k1.5 reaches 77.5 on AIME 2024") == []
    assert unknown_names(catalog, "AIME 2024 score Seed1.5-Thinking MiniMax-M1-80k") == []
    assert unknown_names(catalog, "block size 4096 top-K 12") == []  # a value after a count, not a version
    assert unknown_names(catalog, "DeepSeek-V3 routes to its top-9 experts") == []  # "top-9" is no name
    assert unknown_names(catalog, "Janus-Pro reaches MMBench 79.2") == []
    assert unknown_names(catalog, "SWE-smith 5,016 expert trajectories") == []  # one number, not "SWE-smith 5"
    assert unknown_names(catalog, "Llama 5 reaches 90% on MMLU") == ["Llama 5"]  # the corpus knows Llama 3
    assert unknown_names(catalog, "AIME 2026 results of Kimi k1.5") == ["AIME 2026"]
    assert unknown_names(catalog, "Interestingly, GPT-5 wins") == ["GPT-5"]  # an opening word is no name as such
    assert unknown_names(catalog, "Roughly 5% of tokens are routed by MoBA") == []  # nor with a value after it
    assert unknown_names(catalog, "Since 2023 GPT-5 leads") == ["GPT-5"]
    assert unknown_names(catalog, "Table 7 of MoBA lists it", ["2502.13189"]) == []  # a reference is no name
    assert unknown_names(catalog, "Thinker-Talker (Qwen2.5-Omni) streams speech") == []  # an alias, opening
    # Within the papers given (--paper): MoBA's paper never mentions MMBench.
    assert unknown_names(catalog, "Janus-Pro reaches MMBench 79.2", ["2502.13189"]) == ["Janus-Pro", "MMBench 79.2"]
    assert unknown_names(catalog, "mixture of block attention") == []  # no names at all
    assert unknown_names(catalog, "GRPO-style clipping in DeepSeek-R1") == []  # the name alone counts
    assert unknown_names(catalog, "How does AlphaFold-style prediction work?") == ["AlphaFold-style"]
    # Of two names given for one thing, either will do.
    assert unknown_names(catalog, "the reasoning model of DeepSeek (DeepSeek-R1) uses GRPO") == []
    proc = subprocess.run(
        [sys.executable, "-m", "footnote.cli", "--home", str(corpus_home), "cite", "GPT-5 has 1.8T parameters"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[:2] == [
        "No paper in the archive mentions 'GPT-5'.",
        "No passage in the archive states the numbers of 'GPT-5 has 1.8T parameters'; the nearest passages:",
    ]
    assert "1. " in proc.stdout  # the nearest passages still follow
    proc = subprocess.run(
        [sys.executable, "-m", "footnote.cli", "--home", str(corpus_home), "cite", "6.5×", "--json", "-k", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert json.loads(proc.stdout)["unknown_names"] == []
