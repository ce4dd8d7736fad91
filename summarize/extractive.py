"""The offline generator: picks the most relevant, non-redundant sentences of the retrieved passages
and states them verbatim, each citing the passage it came from."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

from footnote.numbers import query_numbers
from footnote.types import Passage
from ingest.chunk import FOOTNOTE
from summarize.sections import Topic
from summarize.verify import Draft, passage_sentences

_WORD = re.compile(r"[a-z][a-z0-9\-]+")
_STOP = frozenset(
    [
        "the",
        "and",
        "for",
        "with",
        "that",
        "this",
        "from",
        "are",
        "was",
        "were",
        "our",
        "their",
        "which",
        "these",
        "those",
        "into",
        "have",
        "has",
        "been",
        "also",
        "such",
        "can",
        "its",
        "than",
        "more",
        "most",
        "over",
        "used",
        "using",
        "use",
        "based",
        "each",
        "other",
        "both",
    ]
)


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 2}


_TITLE_WORD = re.compile(r"[a-z0-9]+")
_WORD_REST = re.compile(r"[\w-]*")


def title_words(title: str) -> frozenset[str]:
    """The title's words, lower-cased, each also without a plural "s" ("Failures" gives "failures", "failure")."""
    found = _TITLE_WORD.findall(title.lower())
    return frozenset(found) | {w[:-1] for w in found if len(w) > 3 and w.endswith("s")}


def cue_hits(topic: Topic, text: str, title: frozenset[str] = frozenset()) -> int:
    """How many times the sentence says the topic's cue; for a stance topic, a cue inside a word of the paper's
    title ("failure" in a paper on "Failure Attribution") names the subject, and is not counted."""
    hits = 0
    for m in topic.cue.finditer(text):
        if topic.unless and topic.unless.search(text, max(0, m.start() - 80), m.start()):
            continue  # "to avoid biases": what a method does, not what falls short
        if topic.stance and title:
            word = (m.group(0) + _WORD_REST.match(text, m.end()).group(0)).lower().split()[0]
            if word in title or word.rstrip("s") in title or any(part in title for part in word.split("-")):
                continue
        hits += 1
    return hits


# Numbers that point within the paper ("Table 3", "Figure 2", "Lines 3-7", "Section 4.1", "Eq. (2)"): they are no
# result, and a sentence with only these does not count as a quantitative one.
_POINTERS = re.compile(
    r"\b(?:tables?|fig(?:ure)?s?\.?|lines?|sections?|sec\.|eqs?\.?|equations?|appendix|algorithms?|alg\.|"
    r"chapters?)\s*\(?\d+(?:\.\d+)*\)?(?:\s*(?:[-–]|and|to)\s*\(?\d+(?:\.\d+)*\)?(?![\d.%×x]))*",
    re.IGNORECASE,
)
# A run of bare numbers at the start: a plot's axis ("0 10 20 30 40 Iteration ...") or a contents line ("35 6
# Conclusion ... 35 A Contributions").
_NUMBER_RUN = re.compile(r"^(?:\d+(?:\.\d+)?\s+){2,}")


# Numbers that measure nothing: an item's number in a list the sentence makes ("(2) Step-Level Accuracy: ...",
# "1: Qwen2.5-Math models ..."), a reference's year ("(Li et al., 2024b)", "(Ankner et al. 2024; McAleese et al.
# 2024)"), the k of a metric's name ("pass@1", "avg@8"), a formula's "nD−1" and a version ("Lean 4.9.0-rc2").
_NO_MEASURE = re.compile(
    r"(?:^|(?<=[\s:;]))\(?\d{1,2}\)(?=\s)|^\d{1,2}:(?=\s)|(?:\bet al\.?,?|\b[A-Z][\w&-]+,)\s*(?:19|20)\d{2}[a-z]?\b|"
    r"@\d+|(?<=[^\W\d_])−\d+|\b\d+(?:\.\d+){2,}"
)


def result_numbers(text: str) -> list:
    """The sentence's numbers but those that point within the paper (`_POINTERS`), measure nothing (`_NO_MEASURE`)
    or are part of a name (the 80k of "MiniMax-M1-80k", `query_numbers`)."""
    return query_numbers(_NO_MEASURE.sub(" ", _POINTERS.sub(" ", text)))


def measures(text: str) -> list:
    """The sentence's measurements: its numbers with a unit of ratio ("40.2%", "2.3×") or a decimal point and no
    unit ("77.5 on AIME"; not the size "5.7T tokens"), outside names ("Qwen2.5-7B") and pointers ("Table 3.1"). What
    a result reports, where whole numbers are mostly counts and settings ("500 trajectories", "difficulty scores of
    2, 4, 6, and 8")."""
    return [n for n in result_numbers(text) if _is_measure(n)]


def _is_measure(number) -> bool:
    return number.unit in ("%", "×") or ("." in number.text and not number.unit)  # "80.0", whose value is "80"


# A caption inside a sentence, after other words: a figure's or a table's own text (a plot's legend, a table's
# cells) run on into it ("Curriculum Transition Baseline (Uniform Sampling) Curriculum Learning Figure 9: ...",
# "... #Layers 24 30 Table 2 | Detailed hyperparameters for training Janus-Pro.").
_INNER_CAPTION = re.compile(r"\S\s+(?:Figure|Fig\.|Table)\s+\d+(?::|\s+\|)\s")

# A name of a model, a method or a benchmark: a word that begins with a letter and has a digit or a capital inside
# ("GPT-4o-0513", "Qwen2.5", "LLaMA2", "DeepSeek-V3", "GShard", "QwQ-32B", "Step-Audio"); not an acronym alone
# ("GPU", "SFT", "GPUs") nor a capitalised word ("Baseline").
_NAME = re.compile(r"(?<![\w.-])(?=[\w.-]*(?:\d|[a-z][A-Z]|[A-Z]{2}[a-z]{2}|[A-Za-z]-[A-Z]))[A-Za-z][\w.-]*")


def other_names(text: str, subject: frozenset[str] = frozenset()) -> set[str]:
    """The names in ``text`` but the paper's own (each part of the name a word of its title, ``subject``):
    in "we compare DeepSeekMoE 16B with GShard 2.9B" from the DeepSeekMoE paper, {"GShard"}."""
    found = set()
    for m in _NAME.finditer(text):
        name = m.group().rstrip(".-")
        parts = [p for p in re.split(r"[^a-z0-9]+", name.lower()) if p]
        if not all(part in subject for part in parts):  # _NAME begins with a letter: never empty
            found.add(name)
    return found


# A sentence that only announces a list, its first item's heading or number run on ("... as follows: • Architectural
# Innovation.", "Our primary contributions are as follow: 1."): the list's items are the statements.
_LIST_LEAD = re.compile(r":(?:\s*[•·]\s*[^.•:]{0,60}|\s+\(?\d{1,2}\)?)\.$")

_SECTION_NUMBER = re.compile(r"^(?:\d{1,2}|[A-H])(?:\.\d{1,2}){0,3}\.?\s+")
_CONTENTS = re.compile(r"^(?:table of )?contents\b", re.IGNORECASE)


def _line_end(text: str) -> int:
    """Where the first line of ``text`` ends (its length, if it has one line)."""
    end = text.find("\n")
    return len(text) if end < 0 else end


def without_heading(text: str, section: str, chunk_text: str, offset: int | None) -> str:
    """The sentence without its section's heading in front. A section's first chunk begins with the heading's
    line, which has no full stop, so its first sentence reads "Conclusion, Limitations, and Future Work In this
    work, ..." (the heading's number, "5.", ends the sentence before) or "Abstract We present ...". Only a
    sentence that starts on that line (``offset`` into ``chunk_text``; None: unknown) loses it: elsewhere a
    sentence that begins with the section's name ("Distributed Muon has larger latencies ...", in "Distributed
    Muon") keeps it. What is left is still the paper's own text."""
    line_end = _line_end(chunk_text)
    if offset is None or offset >= line_end:  # most sentences: no need to look at the heading
        return text
    heading = " ".join(section.split())
    line = " ".join(chunk_text[:line_end].split())
    run_in = offset == 0 and heading.lower() == "abstract" and line.lower().startswith("abstract ")
    if not (line == heading or run_in):
        return text
    for name in (heading, _SECTION_NUMBER.sub("", heading)):
        if len(name) >= 4 and text.startswith(name + " ") and len(text) > len(name) + 1:
            return text[len(name) + 1 :]
    return text


def sentence_offset(chunk_text: str, spans, text: str, strip=None) -> int | None:
    """Where in its chunk the sentence ``text`` (whitespace-normalised, ``strip`` applied) starts, found among the
    chunk's sentence ``spans`` that begin on its first line; None if it is not one of them."""
    if not spans:
        return None
    line_end = _line_end(chunk_text)
    for start, end in spans:
        if start >= line_end:
            break
        candidate = " ".join(chunk_text[start:end].split())
        if (strip(candidate) if strip else candidate) == text:
            return start
    return None


# A paragraph's run-in heading, a sentence of its own to Punkt: "Limitations and future directions.", "Future work."
# Not a short sentence: one with a verb ("Localization is the dominant failure mode.", "Best results are in bold.")
# or one about a table or figure ("Table 4 summarizes the results.").
_RUN_IN = re.compile(r"[A-Z][\w-]*(?:,? (?:and |& )?[\w-]+){0,5}\.")
_NOT_RUN_IN = re.compile(
    r"^(?:tables?|fig(?:ure)?s?|eq(?:uation)?s?)\b|\b(?:is|are|was|were|be|been|has|have|had|does|do|did|can|could|"
    r"will|would|may|might|shows?|showed|summari[sz]es?|presents?|lists?|reports?|gives?|denotes?|remains?)\b",
    re.IGNORECASE,
)


# A heading names a thing; a short sentence that opens with a pronoun or a determiner refers back to one ("We
# address these limitations.", "This is left to future work.").
# (A possessive starts a heading well enough: "Our approach.", "Our limitations and future work.")
_NOT_HEADING_START = re.compile(r"(?:We|It|They|This|That|These|Those|Such|There|Here)\b")


def run_in_heading(text: str) -> bool:
    """Whether a sentence is a paragraph's run-in heading: a few words, no verb, a full stop, not opening with a
    pronoun or a determiner."""
    return bool(_RUN_IN.fullmatch(text)) and not _NOT_RUN_IN.search(text) and not _NOT_HEADING_START.match(text)


def titles_topic(topic: Topic, heading: str, subject: frozenset[str] = frozenset()) -> bool:
    """Whether a run-in heading names the topic: by the topic's own heading words where it has them
    ("Limitations and future directions."), else by its cue words."""
    return bool(topic.heading.search(heading)) if topic.heading else bool(cue_hits(topic, heading, subject))


def titled_paragraph(topic: Topic, text: str) -> bool:
    """Whether a chunk's text holds a paragraph whose run-in heading names the topic (``Topic.heading``): a line
    that begins with one ("Limitations and future directions. First, SWE-smith's collection pipeline is
    Python-centric. ...")."""
    if topic.heading is None:
        return False
    for line in text.split("\n"):
        m = _RUN_IN.match(line)
        if m and len(line) > m.end() + 1 and run_in_heading(m.group()) and titles_topic(topic, m.group()):
            return True
    return False


def _looks_like_prose(text: str, max_chars: int) -> bool:
    if not 40 <= len(text) <= max_chars:
        return False
    letters = sum(ch.isalpha() for ch in text)
    if letters < 0.6 * len(text) or len(text.split()) < 7:
        return False  # table rows, equations, reference lists
    if not (text[0].isupper() or text[0].isdigit() or text[0] in '“"('):
        return False  # a fragment cut from the middle of a sentence
    return text.rstrip()[-1:] in '.!?)”"'


def pick_sentences(
    topic: Topic,
    passages: Sequence[Passage],
    page_offsets: dict[str, list[int]],
    *,
    limit: int,
    max_chars: int = 400,
    prefer_kinds: Sequence[str] = (),
    title: str = "",
    taken: frozenset[str] | set[str] = frozenset(),
    embed: Callable[[list[str]], np.ndarray] | None = None,
) -> list[Draft]:
    """Up to ``limit`` drafts, best first, chosen by relevance with a redundancy penalty (MMR-like). ``title``
    is the paper's: its words are not cues of a stance topic (`cue_hits`). Sentences in ``taken`` (stated by
    another section of the digest) are left out. With ``embed`` (the archive's embedding model: unit vectors),
    a sentence that says in other words what a chosen one says (`SAME_MEANING`) is left out too."""
    query_words = set().union(*(_words(q) for q in topic.queries))
    subject = title_words(title)
    candidates: list[tuple[float, str, str, set[str]]] = []
    for rank, passage in enumerate(passages):
        chunk = passage.chunk
        under = -1  # the block (line of the page) whose run-in heading names the topic ("Limitations.")
        for sentence in passage_sentences(passage, page_offsets[chunk.paper_id]):
            if FOOTNOTE.match(sentence.text):
                continue  # a footnote ("*Equal contribution 1Pennsylvania State University ...") says who, not what
            start = max(0, sentence.start - chunk.char_start)
            block = chunk.text.count("\n", 0, start)
            text = without_heading(sentence.text, chunk.section, chunk.text, start).lstrip("•·-–* ").strip()
            if run_in_heading(text) and titles_topic(topic, text, subject):
                # "Limitations and future directions. First, ... Second, ...": the rest of the paragraph (the block
                # the heading ends in) is on the topic, though its sentences may not say so in words.
                under = chunk.text.count("\n", 0, start + len(sentence.text))
                continue
            if not _looks_like_prose(text, max_chars) or _CONTENTS.match(text) or _NUMBER_RUN.match(text):
                continue
            if _LIST_LEAD.search(text):
                continue  # "Our contributions are summarized as follows: • Architectural Innovation."
            if _INNER_CAPTION.search(text):
                continue  # a figure's words run on into its caption
            if text.endswith("?") and not topic.questions:
                continue  # "how does this compare to simply increasing the model size?" states no baseline
            cues = cue_hits(topic, text, subject) or int(block == under)
            if not cues:
                continue
            numbers = result_numbers(text) if topic.needs_number else []
            if topic.needs_number and not numbers:
                continue
            if text in taken:
                continue
            words = _words(text)
            overlap = len(words & query_words) / (1 + len(query_words)) ** 0.5
            score = 1.0 / (1 + rank) + 0.3 * overlap + 0.1 * min(cues, 3)
            if topic.names_others:
                score += 0.1 * min(len(other_names(text, subject)), 3)
            if chunk.kind in prefer_kinds:
                score += 0.6
            elif chunk.kind == "appendix":
                score -= 0.4
            if topic.needs_number:
                # A sentence that reports a measurement comes before every one with only counts or settings.
                found = sum(1 for n in numbers if _is_measure(n))
                score += 0.05 * min(found, 4) if found else -2.0
            candidates.append((score, text, chunk.id, words))
    candidates.sort(key=lambda c: -c[0])
    chosen: list[tuple[float, str, str, set[str]]] = []
    meaning: dict[str, np.ndarray] = {}

    def same_meaning(a: str, b: str) -> bool:
        missing = [t for t in (a, b) if t not in meaning]
        if missing:
            meaning.update(zip(missing, embed(missing), strict=True))  # type: ignore[misc]
        return float(meaning[a] @ meaning[b]) >= SAME_MEANING

    for cand in candidates:
        if len(chosen) == limit:
            break
        if any(_redundant(cand[3], other[3]) or cand[1] == other[1] for other in chosen):
            continue
        # Sentences that share a good part of their words may say the same thing in other words: only those are
        # embedded (a call of the model costs 10-40 ms, too much for every candidate of every topic).
        if embed is not None and any(
            _overlap(cand[3], other[3]) >= PARAPHRASE_OVERLAP and same_meaning(cand[1], other[1]) for other in chosen
        ):
            continue
        chosen.append(cand)
    return [Draft(text, [chunk_id], topic.label) for _, text, chunk_id, _ in chosen]


# Two sentences whose vectors (all-MiniLM-L6-v2, unit length) are this close say the same thing in other words:
# DeepSeekMoE's three contributions each "introduce DeepSeekMoE ... ultimate expert specialization" (0.75-0.81),
# Kimi-Audio's two "We present Kimi-Audio, an open-source audio foundation model" (0.81). Distinct statements of
# one section of the 19 papers' digests were below 0.80 but for one pair (DeepSeek-Prover-V2's two results,
# 0.83); the words alone (`_redundant`) share too little of them: "In response to the aforementioned issues, we
# introduce ..." against "We introduce ...". Measured with `openvino-int8`; fp32 backends read such pairs about
# 0.01 closer (Kimi-Audio's 0.805 against 0.816; DeepSeekMoE's "In response, we propose the DeepSeekMoE
# architecture ..." 0.791 against 0.806), so a pair this near the line is left out on one machine and kept on
# another: each machine's digest is deterministic, two machines' may differ by such a sentence.
SAME_MEANING = 0.80
PARAPHRASE_OVERLAP = 0.35  # the share of the shorter sentence's words both hold, for SAME_MEANING to be checked


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0


def _redundant(a: set[str], b: set[str]) -> bool:
    """Whether two sentences say the same: most words shared (Jaccard over 0.5), or nearly all of the shorter
    one's words in the longer ("With only 40.5% of computations, DeepSeekMoE 16B achieves comparable performance
    with DeepSeek 7B." within "The evaluation results ...: (1) On the whole, with about only 40% of the
    computations, DeepSeekMoE 16B achieves comparable performance with DeepSeek 7B.")."""
    return _jaccard(a, b) > 0.5 or _overlap(a, b) >= 0.8


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0
