"""Citation lookup: which paper, page and passage states a claim or a number."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from footnote.names import BARE_NUMBER, aliases, names
from footnote.numbers import Number, query_numbers
from footnote.text import plain_math
from footnote.types import Passage
from index.archive import Archive
from index.catalog import Catalog
from index.retrieve import Query, Retriever
from qa.abstain import ADJECTIVE
from summarize.verify import Sentence, extract_numbers, normalise, numbers_in, passage_sentences

_TERM = re.compile(r"[A-Za-z][A-Za-z0-9\-\.]*[0-9A-Z][A-Za-z0-9\-]*|[A-Za-z]{3,}")


@dataclass(frozen=True)
class Match:
    paper_id: str
    title: str
    page: int
    section: str
    quote: str
    score: float
    span: tuple[int, int] | None  # the matching part of the quote, if one was found
    # Whether the quoted sentence holds every one of the claim's numbers (None: the claim has none). A claim with a
    # number no match holds ("87.123%"; "99.9% on AIME 2024", whose 2024 many hold) is not stated in the archive.
    numbers_found: bool | None = None

    def to_json(self) -> dict:
        out = {
            "paper_id": self.paper_id,
            "title": self.title,
            "page": self.page,
            "section": self.section,
            "quote": self.quote,
            "score": round(self.score, 4),
        }
        out["match"] = list(self.span) if self.span else None
        out["numbers_found"] = self.numbers_found
        return out


def _names(text: str) -> list[str]:
    """Exact-match terms: model and benchmark names such as GSM8K, Qwen2.5-7B, AIME."""
    return [t for t in _TERM.findall(text) if any(c.isdigit() for c in t) or (t.isupper() and len(t) > 2)]


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2}


def sentence_score(query: str, sentence: Sentence, title: str = "", numbers: Sequence[Number] | None = None) -> float:
    """How well one sentence states the query: exact numbers and names first, then shared words. The names and
    words of the sentence's paper's ``title`` count as the sentence's own: every sentence of "Open-Reasoner-Zero:
    ..." or "DeepSeek-R1: ..." is about that model, and says so only now and then. The numbers are the claim's own
    (`query_numbers`, or ``numbers`` where `claim_numbers` gave them): the 5 of "GPT-5" and the 7B of "Qwen2.5-7B"
    are the name's, matched with it."""
    numbers = query_numbers(query) if numbers is None else numbers
    names = [n.lower() for n in _names(query)]
    words = _words(query)
    text = sentence.text
    score = 0.0
    if numbers:
        score += 3.0 * len(numbers_in(numbers, text)) / len(numbers)
        found = extract_numbers(text)
        exact = sum(any(n.value == f.value and n.unit == f.unit for f in found) for n in numbers)
        score += 1.0 * exact / len(numbers)  # 6.5× outranks a bare 6.5
    if names:
        in_title = title.lower()
        score += 2.0 * sum(n in text.lower() or n in in_title for n in names) / len(names)
    if normalise(query).lower() in text.lower():
        score += 3.0
    return score + len(words & (_words(text) | _words(title))) / (1 + len(words))


def best_sentence(
    query: str, passage: Passage, offsets: list[int], numbers: Sequence[Number] | None = None
) -> tuple[Sentence | None, float]:
    """The sentence of the passage that best states the query, and how well (exact numbers and names first)."""
    best, best_score = None, -1.0
    for sentence in passage_sentences(passage, offsets):
        score = sentence_score(query, sentence, passage.title, numbers)
        if score > best_score:
            best, best_score = sentence, score
    return best, best_score


def _span(query: str, quote: str, numbers: Sequence[Number]) -> tuple[int, int] | None:
    lower = quote.lower()
    needle = normalise(query).lower()
    if needle and needle in lower:
        start = lower.index(needle)
        return start, start + len(needle)
    for number in numbers:
        for m in re.finditer(re.escape(number.text), quote):
            return m.start(), m.end()
        for found in extract_numbers(quote):
            if number.matches(found):
                start = quote.find(found.text)
                if start >= 0:
                    return start, start + len(found.text)
    for name in _names(query):
        start = lower.find(name.lower())
        if start >= 0:
            return start, start + len(name)
    return None


def _window(quote: str, span: tuple[int, int] | None, width: int = 160) -> tuple[str, tuple[int, int] | None]:
    """Cut a long quote (a table flattened into one "sentence") to the words around the match."""
    if len(quote) <= 2 * width + 40:
        return quote, span
    center = (span[0] + span[1]) // 2 if span else 0
    start = max(0, center - width)
    end = min(len(quote), max(center + width, start + 2 * width))
    while start > 0 and not quote[start - 1].isspace():
        start -= 1
    while end < len(quote) and not quote[end].isspace():
        end += 1
    cut = quote[start:end].strip()
    offset = quote.index(cut, start) if cut else 0
    return cut, ((span[0] - offset, span[1] - offset) if span else None)


def cite(
    archive: Archive,
    query: str,
    *,
    k: int = 5,
    paper_ids: Sequence[str] | None = None,
    include_references: bool = False,
) -> list[Match]:
    """The passages that state ``query``, best first: exact numbers and names outrank paraphrase. A claim pasted
    from a PDF reads as the archive's text does (footnote.text.plain_math: "top-𝐾out of 𝑁experts")."""
    query = plain_math(query)
    retriever = Retriever(archive)
    exclude = () if include_references else ("references",)
    passages = retriever.search(Query(query, k=max(20, k * 4), paper_ids=paper_ids, exclude_kinds=exclude))
    offsets: dict[str, list[int]] = {}
    ranked: list[tuple[float, Match]] = []
    top = passages[0].score if passages else 1.0
    numbers = claim_numbers(archive.catalog, query)
    for passage in passages:
        pid = passage.chunk.paper_id
        if pid not in offsets:
            offsets[pid] = archive.page_offsets(pid)
        sentence, exact = best_sentence(query, passage, offsets[pid], numbers)
        if sentence is None:
            continue
        score = exact + passage.score / top
        quote, span = _window(sentence.text, _span(query, sentence.text, numbers))
        found = len(numbers_in(numbers, sentence.text)) == len(numbers) if numbers else None
        match = Match(pid, passage.title, sentence.page, passage.chunk.section, quote, score, span, found)
        ranked.append((score, match))
    ranked.sort(key=lambda item: -item[0])
    out: list[Match] = []
    seen: set[tuple[str, int, str]] = set()
    for _, match in ranked:
        key = (match.paper_id, match.page, match.quote)
        if key not in seen:
            seen.add(key)
            out.append(match)
        if len(out) == k:
            break
    return out


def unknown_names(catalog: Catalog, claim: str, paper_ids: Sequence[str] | None = None) -> list[str]:
    """The claim's names (qa.abstain's: "GPT-5", "Llama 4 Scout", "AlphaFold 3") that no paper in the archive
    (or of ``paper_ids``) mentions: ``cite`` still lists the nearest passages, about other models, and says first
    that the archive never names what the claim is about.

    A name is looked for word by word, so that a claim typed as keywords ("AIME 2024 Seed1.5-Thinking
    MiniMax-M1-80k", one run of names to qa.abstain) is not held against the archive for words that no single
    passage strings together. A version after a word is looked for with it ("Llama 4", "Claude 3.5", "AIME
    2024"), so "Llama 5" is unknown to an archive that knows Llama 3; a value is not ("MMBench 79.2"). A name
    made an adjective ("GRPO-style") is looked for as the name alone. A quantity ("1.8T", "7B", "12.5Hz") is not
    looked for: whether a passage states the claim's numbers is ``Match.numbers_found``. Of two names the claim
    gives for one thing ("the Moonshot audio model (Kimi-Audio)"), either will do."""
    claim = _THOUSANDS.sub(r"\1", plain_math(claim))  # "5,016 trajectories": one number, not "SWE-smith 5"
    runs = names(claim, opening=True)
    known = {
        tuple(run): all(
            _mentioned(catalog, part, paper_ids)
            for part in _parts(run)
            if not part[0][0].isdigit() and not _REFERENCE.fullmatch(part[0])
        )
        for run in runs
    }
    for one, other in aliases(claim, opening=True):
        if known.get(one) or known.get(other):
            known[one] = known[other] = True
    return list(dict.fromkeys(" ".join(run) for run in runs if not known[tuple(run)]))


# Words that point within a paper ("Table 7", "Figure 3", "Appendix B"): no name of a thing the archive may lack.
_REFERENCE = re.compile(r"(?:table|figure|fig|section|sec|appendix|equation|eq|algorithm|line|page|chapter)s?", re.I)
_THOUSANDS = re.compile(r"(\d),(?=\d{3}\b)")


def _parts(run: list[str]) -> list[list[str]]:
    """The run's words, each with the bare numbers after it ("Llama 4", "Claude 3.5", "AIME 2024")."""
    parts: list[list[str]] = []
    for token in run:
        if BARE_NUMBER.fullmatch(token) and parts:
            parts[-1].append(token)
        else:
            parts.append([ADJECTIVE.sub("", token)])
    return parts


# A number after a word that makes it a version of a name ("Llama 4", "Claude 3.5", "AIME 2024"), not a value said
# of it ("MMBench 79.2", "GenEval 0.80", "top-K 12", "GRPO 256"): one digit (and one decimal), or a year.
_YEAR = re.compile(r"(?:19|20)\d\d")
_VERSION = re.compile(rf"[1-9](?:\.\d)?|{_YEAR.pattern}")


def _mentioned(catalog: Catalog, part: list[str], paper_ids: Sequence[str] | None) -> bool:
    """Whether the archive holds the word, with its version if it has one ("Llama 4": as those words, side by
    side, so "Llama 5" is unknown to an archive that knows Llama 3 and 4); a value after it is the claim's to
    check, not the name's (``Match.numbers_found``). A number that looks like a version after a word the archive
    writes with no versions ("MT-Bench 7.5") is taken for a value."""
    word, *numbers = part
    if _version_shaped(numbers):
        if catalog.mentions_anywhere(" ".join(part), paper_ids=paper_ids):
            return True
        if _takes_versions(catalog, word, numbers[0], paper_ids):
            return False
    return catalog.mentions_anywhere(word, paper_ids=paper_ids)


def _version_shaped(numbers: Sequence[str]) -> bool:
    return bool(numbers) and all(_VERSION.fullmatch(n) for n in numbers)


def _takes_versions(catalog: Catalog, word: str, number: str, paper_ids: Sequence[str] | None) -> bool:
    """Whether the archive writes the word with versions of the number's kind (a year, or a digit): such numbers
    after it more than once in all ("Llama 3", "LLaMA2", "Llama-3.1"; "AIME 2024"). If not, a number after it in
    a claim is a value said of it ("MT-Bench 7.5": the corpus writes "MT-Bench 6.3" once; "Codeforces 2029", a
    rating), not a version the archive lacks ("Llama 5", "AIME 2026")."""
    year = _YEAR.fullmatch(number) is not None
    after = catalog.numbers_after(word, paper_ids=paper_ids)
    return sum(n for v, n in after.items() if _VERSION.fullmatch(v) and (_YEAR.fullmatch(v) is not None) == year) > 1


def claim_numbers(catalog: Catalog, claim: str) -> list[Number]:
    """The numbers the claim states (`query_numbers`), less the versions of its names and the numbers of its
    references: the 2.5 of "Gemini 2.5 Pro scores 67.2" and the 2024 of "AIME 2024" are the name's (a table states
    the score under a header that names the model), the 3 of "Table 3" points within a paper. Whether a word takes
    versions is asked of the whole archive, whichever papers the claim is searched in (``cite --paper``): it is
    the name's, not the selection's. A number after a word that takes none stays ("MT-Bench 7.5", "MT-Bench 6.3")."""
    numbers = query_numbers(claim)
    text = _THOUSANDS.sub(r"\1", claim)
    drop = [m.group(1) for m in _REFERENCE_NUMBER.finditer(text)]
    for run in names(text, opening=True):
        for word, *after in _parts(run):
            version = after[0] if after else ""  # "AIME 2024 91.6": 2024 may be AIME's, 91.6 is a value
            if (
                _VERSION.fullmatch(version)
                and not _REFERENCE.fullmatch(word)
                and _takes_versions(catalog, word, version, None)
            ):
                drop.append(version)
    for version in drop:
        same = next((n for n in numbers if n.text == version and not n.unit), None)
        if same is not None:
            numbers.remove(same)
    return numbers


_REFERENCE_NUMBER = re.compile(rf"\b{_REFERENCE.pattern}\.?\s+(\d+)\b", re.I)  # "Table 3", "Figs. 4"
