"""When to say "not found in the archive": the retrieved passages must mention what the question is about.

Dense similarity alone cannot tell "What dropout rate did Kimi k1.5 use?" (the paper never says) from
a question it answers: the passages about Kimi k1.5's training are close either way. What separates
them is whether the question's specific terms appear in the passages at all:

- every name in the question (capitalised or with digits: ``Llama 4 Maverick``, ``WMT14``, ``MiMo-7B``)
  must occur in the top passages, possibly as parts (``DeepSeek R1`` + ``FLOPs``);
- every number in the question must occur in them;
- what the question asks for must occur in them: the noun after "how many", "which" or "what" (the *focus*:
  "How many **TPUs**", "Which **protein structure prediction benchmark**"), at least half of its words. A
  question about a paper in the archive asks for something the paper never mentions ("How many **seconds**
  per proof", "Under which **licence**"), and the passages about that paper match it closely all the same.

Other ordinary words are not held against a question (they may be paraphrase): requiring every rare one
("dropout", "paid") was tried and cost more answerable questions than it caught. Nor are focus words that
only say a number or a list is wanted ("what **fraction**", "which **problems**"). The rules and the
similarity threshold are calibrated on ``bench/questions.json`` by ``bench/qa_eval.py``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from footnote.numbers import extract_numbers
from footnote.types import Passage
from index.catalog import Catalog
from summarize.verify import numbers_in


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STOP = _words(
    "a about above across after again against all also among an and any are as at be been before being between both "
    "but by can could did do does doing done during each either for from get gets got had has have having how "
    "however if in into is it its just many more most much no nor not of on once only or other our out over own per "
    "same should so some such than that the their them then there these they this those through to under until up "
    "upon use used uses using very was way we were what when where whether which while who whom whose why will with "
    "within without would you your paper papers work study studies authors report reported reports reach reaches "
    "reached achieve achieves achieved obtain obtains obtained get give gives given show shows shown say says said "
    "state states stated mention mentions mentioned according value values number numbers score scores result "
    "results model models method methods approach compare compared comparison versus vs like kind type sort take "
    "took taken make makes made need needs needed one two three first second"
)
_TOKEN = re.compile(r"[A-Za-z0-9][\w&.+-]*[A-Za-z0-9+]|[A-Za-z0-9]")
_WH = re.compile(r"\b(?:how\s+many|how\s+much|which|what)\s+(.*)", re.IGNORECASE | re.DOTALL)
# Where the focus ends: the verb or preposition after the noun ("which encoder *does* ..."), or a word that shows
# there is no noun ("what *else* ...", "what *happens* ...").
_FOCUS_END = _words(
    "does do did is are was were has have had can could will would should may might must to of in on at for from by "
    "with under over about into than as that when where against across per lets let allows allow enables enable "
    "helps help makes make causes cause leads lead else exactly really actually specifically precisely happens happen "
    "happened occurs occur occurred"
)
# Focus words that say what form the answer takes, not what it is about ("what fraction", "which problems").
_FOCUS_GENERIC = _words(
    "idea ideas thing things aspect aspects part parts factor factors kind kinds type types way ways method methods "
    "technique techniques approach approaches component components problem problems issue issues challenge "
    "challenges limitation limitations advantage advantages benefit benefits reason reasons fraction fractions "
    "share proportion percentage percent ratio ratios amount amounts faster slower larger smaller higher lower "
    "better worse more less times"
)


@dataclass
class Support:
    """What the question asks about that the top passages do not mention."""

    missing_names: list[str] = field(default_factory=list)
    missing_numbers: list[str] = field(default_factory=list)
    missing_focus: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing_names or self.missing_numbers or self.missing_focus)

    def reason(self) -> str:
        parts = [*self.missing_names, *self.missing_numbers, *self.missing_focus]
        return "the best passages never mention " + ", ".join(f'"{p}"' for p in parts) if parts else ""


def _tokens(question: str) -> list[str]:
    question = re.sub(r"(?<=\w)['’]s\b", "", question)
    return _TOKEN.findall(question)


def _is_name(token: str, first: bool) -> bool:
    has_digit = any(c.isdigit() for c in token)
    has_alpha = any(c.isalpha() for c in token)
    if has_digit and has_alpha:
        return True
    return has_alpha and not first and any(c.isupper() for c in token) and token.lower() not in _STOP


def names(question: str) -> list[list[str]]:
    """Runs of name tokens ("Llama 4 Maverick" is one run; a bare number joins the name before it)."""
    runs: list[list[str]] = []
    current: list[str] = []
    for i, token in enumerate(_tokens(question)):
        if _is_name(token, first=i == 0) or (current and re.fullmatch(r"\d+(?:\.\d+)?", token)):
            current.append(token)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    # Short generic acronyms on their own (RL, LLM, GPU, US) say little about the topic.
    return [r for r in runs if not (len(r) == 1 and r[0].rstrip("s").isalpha() and len(r[0].rstrip("s")) <= 3)]


def focus(question: str) -> list[str]:
    """The words of what the question asks for: the noun phrase after its first "how many", "how much",
    "which" or "what", up to a verb, preposition, name or number, without stop words and words that only
    say what form the answer takes. Empty when there is none ("What is ...?")."""
    match = _WH.search(question)
    if not match:
        return []
    in_names = {t.lower() for run in names(question) for t in run}
    words: list[str] = []
    for token in _tokens(match.group(1)):
        low = token.lower()
        if low in _FOCUS_END or low in in_names or any(c.isdigit() for c in token):
            break
        if low not in _STOP and low not in _FOCUS_GENERIC:
            words.append(low)
    return list(dict.fromkeys(words))


def _found(catalog: Catalog, tokens: list[str], chunk_ids: Sequence[str]) -> bool:
    """Whether the run of tokens occurs in the chunks, whole or cut into parts that each occur
    (a part that is only a number does not count as found on its own)."""
    tokens = [w for token in tokens for w in re.findall(r"[^\W_]+", token)]  # O1-distilled → O1, distilled
    n = len(tokens)
    reach = [True] + [False] * n
    for end in range(1, n + 1):
        for start in range(end):
            if not reach[start]:
                continue
            part = tokens[start:end]
            if len(part) == 1 and part[0].isdigit():
                continue
            if catalog.has_phrase(" ".join(part), chunk_ids):
                reach[end] = True
                break
    return reach[n]


def support(catalog: Catalog, question: str, passages: Sequence[Passage]) -> Support:
    """Which of the question's names and numbers the passages lack."""
    result = Support()
    chunk_ids = [p.chunk.id for p in passages]
    if not chunk_ids:
        return result
    runs = names(question)
    for run in runs:
        if not _found(catalog, run, chunk_ids):
            result.missing_names.append(" ".join(run))
    text = " ".join(p.chunk.text for p in passages)
    numbers = extract_numbers(question)
    found = numbers_in(numbers, text)
    result.missing_numbers = [n.text for n in numbers if n not in found]
    wanted = focus(question)
    missing = [w for w in wanted if not catalog.has_phrase(w, chunk_ids)]
    if len(wanted) - len(missing) < (len(wanted) + 1) // 2:
        result.missing_focus = missing
    return result
