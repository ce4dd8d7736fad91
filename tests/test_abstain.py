"""qa.abstain: which words of a question the retrieved passages must mention before `ask` answers."""

from __future__ import annotations

import re

import pytest

from footnote.names import aliases, names
from qa.abstain import _found, focus


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How many TPUs were used to train Gemini 2.5 Pro?", ["tpus"]),
        (
            "Which protein structure prediction benchmark does DeepSeek-Prover-V2 evaluate on?",
            ["protein", "structure", "prediction"],
        ),
        ("Under which licence are the Janus-Pro model weights released?", ["licence"]),
        ("Which vision encoder does Janus-Pro use for understanding?", ["vision", "encoder"]),
        # the focus stops at a name or a number
        ("What MoBA block size is used?", []),
        ("How many 4-bit weights are stored?", []),
        # words that only say a number or a list is wanted constrain nothing
        ("What fraction of the computation does MoBA save?", []),
        ("How much faster is MoBA than full attention?", []),
        ("Which problems does DeepSeek-R1-Zero suffer from?", []),
        ("How much money did the SWE-smith dataset cost to create?", []),  # the passage says "$1360"
        # no noun after the question word: a pronoun, or a verb in the past tense (before a particle or an article)
        ("What turned out to explain the bug?", []),
        ("What caused the loss spikes?", []),
        ("Which one counts as the cause of the failure?", []),
        ("Which pretrained model does MiMo start from?", ["pretrained"]),
        ("What masked tokens are predicted?", ["masked", "tokens"]),
        ("What speed does MoBA reach?", ["speed"]),
        # "What is the X of ...": X is what it asks for, as after "which"; without an article there is none
        ("What is the speedup of MoBA?", ["speedup"]),
        ("What is the vocabulary size of MiniMax-M1's tokenizer?", ["vocabulary"]),
        ("What's the total dollar cost of training DeepSeek-V3?", ["total", "dollar", "cost"]),
        ("What was the rental cost of MiniMax-M1's RL run?", ["rental", "cost"]),
        # a rate, like a size, is a number: what it is a rate of is what the passages must say
        ("What dropout rate was used when pre-training DeepSeek-V3?", ["dropout"]),
        ("What is the name of the index the authors propose?", []),
        ("What is the purpose of the shared experts?", []),
        ("What is MiMo-7B's Elo rating?", []),
        ("What is MoBA?", []),
        ("What is it that MoBA saves?", []),
        ("What exactly is MoBA?", []),
        ("What happens when MoBA is applied to 1M tokens?", []),
        ("What else does Janus-Pro improve besides generation?", []),
        ("Why does RL help?", []),
        ("", []),
        # it ends at punctuation: "how much time" is a second question; a parenthesis only qualifies the noun
        ("How many GPUs, and how much wall-clock time, did the run need?", ["gpus"]),
        ("How many parameters (total and activated) does the model have?", ["parameters"]),
        # ... and at the verb after the noun, whatever its form; quotes hold a phrase, not an end
        ("Which layer keeps a dense FFN instead of an MoE layer?", ["layer"]),
        ("Which attention mechanism powers MiniMax-M1?", ["attention"]),
        ('Which papers discuss the "aha moment"?', []),
        ('Which "aha moment" behaviour emerges?', ["aha", "moment", "behaviour"]),
        ("What went wrong with vanilla Muon at larger scale?", []),
        ("Which paper proposed GRPO?", []),
        # words that are verbs after a noun are nouns first: "how much power", "what increase"
        ("How much power does MoBA save?", ["power"]),
        ("What increase in accuracy does RL bring?", ["increase"]),
        ("Which control experiments were run?", ["control", "experiments"]),
        ("Which datasets provide the prompts?", ["datasets"]),
        # the answer names benchmarks ("a query from GAIA or AssistantBench") without saying "benchmark"
        ("Which benchmarks supply the queries used in the Who&When dataset?", []),
        ("How many seeds were used?", ["seeds"]),
        # a kind of thing, not the thing: the answer names it ("a language consistency reward")
        ("What signal does DeepSeek-R1 use against language mixing?", []),
    ],
)
def test_focus(question, expected):
    assert focus(question) == expected


def test_names_are_runs_of_capitalised_or_digit_tokens():
    assert names("What MMLU score does Llama 4 Maverick achieve?") == [["MMLU"], ["Llama", "4", "Maverick"]]
    assert names("How does RL help an LLM?") == []  # short generic acronyms alone say little


def test_a_top_n_count_is_no_name():
    assert names("DeepSeek-V3 routes each token to its top-9 experts") == [["DeepSeek-V3"]]
    assert names("Top-1 accuracy of MoBA with top-K 12 blocks", opening=True) == [["MoBA"]]
    assert names("Is top-k gating used in Top-KAST?") == [["Top-KAST"]]  # a name that begins with it


def test_a_name_ends_at_punctuation_but_not_at_an_abbreviation():
    carried = "and how does that compare with Kimi k1.5? DeepSeek-R1 AIME What pass@1 score does DeepSeek-R1 get?"
    assert names(carried) == [["Kimi", "k1.5"], ["DeepSeek-R1", "AIME"], ["DeepSeek-R1"]]
    assert names("Compare Qwen2.5-7B, MiMo-7B and Llama 3") == [["Qwen2.5-7B"], ["MiMo-7B"], ["Llama", "3"]]
    assert names("How does Dr. GRPO change GRPO?") == [["Dr", "GRPO"], ["GRPO"]]


def test_a_slash_parts_two_names():
    assert names("How many steps does the Moonlight/Muon work use?") == [["Moonlight"], ["Muon"]]


def test_a_possessive_ends_a_name():
    """ "MiniMax-M1's CISPO" names the model and its algorithm: the passage about CISPO need not spell out
    MiniMax-M1 (its paper's title page does), and one that names MiniMax-M1 need not say CISPO."""
    assert names("What does MiniMax-M1's CISPO clip?") == [["MiniMax-M1"], ["CISPO"]]
    assert names("How fast is MoBA’s kernel on Llama 3?") == [["MoBA"], ["Llama", "3"]]


def test_a_name_in_parentheses_is_another_name_for_the_one_before_it():
    assert aliases("Which LLM was the Moonshot audio foundation model (Kimi-Audio) initialized from?") == [
        (("Moonshot",), ("Kimi-Audio",))
    ]
    assert aliases("How does the Muon report (Moonlight) scale?") == [(("Muon",), ("Moonlight",))]
    # a decimal point is no full stop; the names are names() own runs
    assert aliases("What does Qwen2.5-Omni (Thinker-Talker) use?") == [(("Qwen2.5-Omni",), ("Thinker-Talker",))]
    assert aliases("How does Kimi k1.5 (Kimi) work?") == [(("Kimi", "k1.5"), ("Kimi",))]
    assert aliases("How does Dr. GRPO (Dr-GRPO) work?") == [(("Dr", "GRPO"), ("Dr-GRPO",))]
    # not a name on its own, or nothing before it in the same clause
    assert aliases("What does Qwen2.5-Omni (the Thinker part) use?") == []
    assert aliases("How does GRPO work, per DeepSeekMath (Shao et al.)?") == []
    assert aliases("What is MTP, (Kimi-Audio) asks?") == []


def test_a_roman_numeral_joins_a_name_but_starts_none():
    """ "stage III SFT" is no name a paper spells ("Stage III supervised fine-tuning"); "Stage II" is one."""
    assert names("What data ratio does Janus-Pro's stage III SFT use?") == [["Janus-Pro"]]
    assert names("What does Janus-Pro Stage II train?") == [["Janus-Pro", "Stage", "II"]]
    assert names("How does Grok X Vision score in Part XI?") == [["Grok", "X", "Vision"], ["Part", "XI"]]


class _Words:
    """A catalog whose chunks are plain texts, matched word by word (as FTS5 phrases are, without stemming)."""

    def __init__(self, chunks: dict[str, str]) -> None:
        self.chunks = {cid: " ".join(re.findall(r"[^\W_]+", t.lower())) for cid, t in chunks.items()}

    def has_phrase(self, phrase: str, chunk_ids) -> bool:
        wanted = " ".join(re.findall(r"[^\W_]+", phrase.lower()))
        return any(f" {wanted} " in f" {self.chunks[c]} " for c in chunk_ids)


@pytest.mark.parametrize(
    ("name", "text", "title_page", "found"),
    [
        ("Segment Anything", "analyse a segment of the log, and say anything", "", False),  # plain words apart
        ("Segment Anything", "the segment anything model", "", True),  # together
        ("DeepSeek Zero", "DeepSeek trains R1 Zero", "", True),  # a part that is a name itself
        ("Moonshot Muon", "we train with Muon", "Moonshot AI", True),  # a part on the title page
        ("Moonshot Muon", "Moonshot AI trains with Muon", "Moonshot AI", True),  # in both places
        ("Moonshot Muon", "we train with Adam", "Moonshot AI: Muon", False),  # one part must be in the text
        ("Hugging Face Math-Verify", "see github.com/huggingface/Math-Verify", "", True),  # written as one word
        ("Part 1", "Part 2 goes on", "cites Part 1", False),  # a number never from a title page
    ],
)
def test_a_name_in_parts(name, text, title_page, found):
    title = _Words({"t": title_page})
    assert _found(_Words({"c": text}), name.split(), ["c"], lambda phrase: title.has_phrase(phrase, ["t"])) is found
