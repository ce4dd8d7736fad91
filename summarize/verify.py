"""Verification shared by digests and answers: citations must point at retrieved passages, every number
in a statement must appear in its cited quotes, and every quote is verbatim text of the page it names."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from footnote.numbers import Number, extract_numbers
from footnote.types import Citation, Passage, Statement
from ingest.chunk import sentence_spans


def numbers_in(numbers: Sequence[Number], text: str) -> list[Number]:
    """The numbers of ``numbers`` that also appear in ``text``."""
    found = extract_numbers(text)
    return [n for n in numbers if any(n.matches(f) for f in found)]


def normalise(text: str) -> str:
    return " ".join(text.split())


@dataclass
class Draft:
    """A statement as a generator proposes it: text plus the passage ids it cites."""

    text: str
    cites: list[str]
    label: str | None = None


@dataclass
class Grounding:
    statements: int = 0
    citations: int = 0
    numbers: int = 0
    numbers_verified: int = 0
    dropped: int = 0
    reasons: list[str] = field(default_factory=list)

    def add(self, other: Grounding) -> None:
        self.statements += other.statements
        self.citations += other.citations
        self.numbers += other.numbers
        self.numbers_verified += other.numbers_verified
        self.dropped += other.dropped
        self.reasons.extend(other.reasons)

    def to_json(self) -> dict:
        return {
            "statements": self.statements,
            "citations": self.citations,
            "numbers": self.numbers,
            "numbers_verified": self.numbers_verified,
            "dropped": self.dropped,
        }


PageText = Callable[[str, int], str | None]  # (paper id, page) → the page's text
PageOffsets = Callable[[str], list[int]]  # paper id → start offset of each page in the paper's text


@dataclass(frozen=True)
class Sentence:
    text: str
    page: int
    start: int  # offset in the paper's text


def passage_sentences(passage: Passage, page_offsets: list[int]) -> list[Sentence]:
    """The sentences of a passage, each cut to lie on a single page (as split at ingest; chunks stored before
    that are split now, which loads NLTK's Punkt)."""
    chunk = passage.chunk
    out = []
    spans = chunk.sentences if chunk.sentences is not None else sentence_spans(chunk.text)
    for s, e in spans:
        start, end = chunk.char_start + s, chunk.char_start + e
        page = _page_of(page_offsets, start)
        page_end = page_offsets[page] if page < len(page_offsets) else None
        if page_end is not None and end > page_end:  # crosses into the next page: keep this page's part
            end = page_end - 1
        text = normalise(chunk.text[start - chunk.char_start : end - chunk.char_start])
        if text:
            out.append(Sentence(text, page, start))
    return out


def _page_of(offsets: list[int], pos: int) -> int:
    import bisect

    return max(1, bisect.bisect_right(offsets, pos))


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2}


class Verifier:
    """Turns drafts into verified statements; drops what cannot be grounded and counts it."""

    def __init__(self, page_text: PageText, page_offsets: PageOffsets) -> None:
        self.page_text = page_text
        self.page_offsets = page_offsets
        self._offsets: dict[str, list[int]] = {}
        self._pages: dict[tuple[str, int], str] = {}

    def _paper_offsets(self, paper_id: str) -> list[int]:
        if paper_id not in self._offsets:
            self._offsets[paper_id] = self.page_offsets(paper_id)
        return self._offsets[paper_id]

    def _page(self, paper_id: str, page: int) -> str:
        key = (paper_id, page)
        if key not in self._pages:
            self._pages[key] = normalise(self.page_text(paper_id, page) or "")
        return self._pages[key]

    def verify(self, drafts: Sequence[Draft], passages: dict[str, Passage]) -> tuple[list[Statement], Grounding]:
        grounding = Grounding()
        kept: list[Statement] = []
        seen: set[str] = set()
        for draft in drafts:
            text = normalise(draft.text)
            statement, reason = self._verify_one(text, draft, passages)
            if statement is None or text.lower() in seen:
                grounding.dropped += 1
                grounding.reasons.append(reason or f"duplicate statement: {text[:80]}")
                continue
            seen.add(text.lower())
            kept.append(statement)
            numbers = extract_numbers(text)
            grounding.statements += 1
            grounding.citations += len(statement.citations)
            grounding.numbers += len(numbers)
            quotes = " ".join(c.quote for c in statement.citations)
            grounding.numbers_verified += len(numbers_in(numbers, quotes))
        return kept, grounding

    def _verify_one(self, text: str, draft: Draft, passages: dict[str, Passage]) -> tuple[Statement | None, str]:
        if not text:
            return None, "empty statement"
        cited = [passages[c] for c in dict.fromkeys(str(c) for c in draft.cites) if str(c) in passages]
        if not cited:
            return None, f"cites no retrieved passage ({draft.cites!r}): {text[:80]}"
        instructed = [p for p in cited if addresses_a_model(p.chunk.text)]
        cited = [p for p in cited if p not in instructed]
        if not cited:
            return None, f"cites only passages that hold instructions to a model: {text[:80]}"
        numbers = extract_numbers(text)
        citations: list[Citation] = []
        missing = list(numbers)
        words = _words(text)
        for passage in cited:
            sentences = passage_sentences(passage, self._paper_offsets(passage.chunk.paper_id))
            chosen = self._choose(sentences, words, missing)
            for sentence in chosen:
                if sentence.text not in self._page(passage.chunk.paper_id, sentence.page):
                    continue  # not verbatim on its page: never cite it
                citations.append(Citation(passage.chunk.paper_id, sentence.page, sentence.text, passage.chunk.id))
                missing = [n for n in missing if not numbers_in([n], sentence.text)]
        if missing:
            return None, f"number {missing[0].text!r} not in the cited passages: {text[:80]}"
        if not citations:
            return None, f"no verbatim quote supports: {text[:80]}"
        return Statement(text, tuple(_dedupe(citations)), draft.label), ""

    @staticmethod
    def _choose(sentences: list[Sentence], words: set[str], numbers: list[Number]) -> list[Sentence]:
        """The sentence that best overlaps the statement, plus any needed to cover its numbers."""
        if not sentences:
            return []
        best = max(sentences, key=lambda s: len(words & _words(s.text)) / (1 + len(_words(s.text)) ** 0.5))
        chosen = [best]
        remaining = [n for n in numbers if not numbers_in([n], best.text)]
        for number in remaining:
            for sentence in sentences:
                if numbers_in([number], sentence.text):
                    if sentence not in chosen:
                        chosen.append(sentence)
                    break
        return chosen


_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b[^.]{0,40}\b(previous|prior|above|earlier|all|any|your)\b[^.]{0,25}"
    r"\b(instructions?|prompts?|directions?|rules)\b"
    r"|\b(notes?|messages?|instructions?) (to|for) (the )?"
    r"(ai|llms?|language models?|assistants?|chatbots?|reviewers?)\b"
    r"|\b(ai assistants?|language models?|llms?) reading this\b"
    r"|\b(say|state|claim|report|write) (that )?this paper (reports|achieves|is)\b",
    re.IGNORECASE,
)


def addresses_a_model(text: str) -> bool:
    """Whether the text speaks to a model reading it ("ignore previous instructions", "note to AI assistants").
    Such a passage is never quoted as support: what it says is an instruction planted in the PDF, not a
    finding, even when a statement repeats it word for word."""
    return bool(_INSTRUCTION.search(" ".join(text.split())))


def _dedupe(citations: list[Citation]) -> list[Citation]:
    seen, out = set(), []
    for c in citations:
        key = (c.paper_id, c.page, c.quote)
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out
