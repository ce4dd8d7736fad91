"""When to say "not found in the archive": the top passages must mention what the question is about.

Dense similarity alone cannot tell "What dropout rate did Kimi k1.5 use?" (the paper never says) from
a question it answers: the passages about Kimi k1.5's training are close either way. What separates
them is whether the question's specific terms appear at all in the k passages an answer would quote (qa.ask
judges those; ``support``):

- every name in the question (capitalised or with digits: ``Llama 4 Maverick``, ``WMT14``, ``MiMo-7B``),
  possibly as parts (``DeepSeek R1`` + ``FLOPs``), in a passage, or on the title page or in the abstract of
  the passage's paper: a passage of the Muon paper is about "Moonlight" (its model, named in its abstract) without
  spelling the name out. A name in parentheses after another gives a second name for the same thing ("the
  Moonshot audio model (Kimi-Audio)": the paper says "MoonshotAI" only in URLs): either will do;
- every number in the question, but those that are part of a name (the 7B of ``MiMo-7B``: the name covers it);
- what the question asks for: the noun after "how many", "how much", "which" or "what" (the *focus*: "How many
  **TPUs**", "Which **protein structure prediction** benchmark"), at least half of its words, in one passage that also
  mentions one of the question's names; spread over passages they do not count ("How many parameters does
  Grok 3 have?": one passage lists Grok 3 in a benchmark table, others give other models' parameter counts).
  A question about a paper in the archive asks for something the paper never mentions ("How many **seconds**
  per proof", "Under which **licence**"), and the passages about that paper match it closely all the same.
  "What is the X of ..." asks for X too ("What is the **vocabulary** size of MiniMax-M1's tokenizer?": DeepSeekMoE's
  passages give vocabulary sizes, and MiniMax-M1's title page says "context size"; "size", like "amount", only
  says that a number is wanted).

- all its names in one paper, when it asks about one thing (no word of comparison, no "and" or "or"): "What does
  Moonlight score on GPQA Diamond?" finds Moonlight in the Muon paper and GPQA Diamond in other papers' tables,
  and no paper says both. "How does Kimi k1.5 compare with DeepSeek-R1?" may be answered from two papers, and so
  may a follow-up that carries an earlier question's names (``together=False``).

Other ordinary words are not held against a question (they may be paraphrase): requiring every rare one
("dropout", "paid") was tried and cost more answerable questions than it caught. Nor are focus words that
only say a number or a list is wanted ("what **fraction**", "which **problems**", "how much **money**": the
passage says "$1360"). The rules and the similarity threshold are calibrated on ``bench/questions.json`` and
checked on ``bench/questions_heldout.json``, ``bench/questions_fresh.json`` and ``bench/questions_blind*.json`` by
``bench/qa_eval.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from footnote.names import STOP, aliases, names, tokens, words
from footnote.numbers import query_numbers
from footnote.types import Passage
from index.catalog import Catalog
from summarize.verify import numbers_in

_WH = re.compile(r"\b(?:how\s+many|how\s+much|which|what(?:'s|’s)?)\s+(.*)", re.IGNORECASE | re.DOTALL)
# "What is the X of ...", "What's the X ...": the noun after the article is what the question asks for, as after
# "which". Without the article ("What is MoBA?", "What is MiMo-7B's Elo rating?") there is none.
_COPULA = re.compile(r"^(?:is|are|was|were)\s+(?:the|its|their)\s+", re.IGNORECASE)
_ARTICLE = re.compile(r"^(?:the|its|their)\s+", re.IGNORECASE)  # after "What's"
# Where the focus ends: the verb or preposition after the noun ("which encoder *does* ..."), or a word that shows
# there is no noun ("what *else* ...", "what *happens* ...").
_FOCUS_END = words(
    "does do did is are was were has have had can could will would should may might must to of in on at for from by "
    "with under over about into than as that when where against across per lets let allows allow enables enable "
    "helps help makes make causes cause leads lead else exactly really actually specifically precisely happens happen "
    "happened occurs occur occurred one ones "
    # verbs in the past tense that are not made with -ed ("what *went* wrong")
    "went came made led took got gave kept found showed became began held drove brought built chose ran grew knew "
    "told thought wrote sent spent won meant"
)
# Verbs a question goes on with after its noun ("Which papers *discuss* ...", "which layer *keeps* ..."). Many are
# nouns too ("how much *power*", "what *increase*"), so they end the focus only after its first word.
_FOCUS_VERBS = words(
    "discuss discusses propose proposes introduce introduces adopt adopts employ employs apply applies observe "
    "observes find finds keep keeps add adds replace replaces remove removes require requires suffer suffers "
    "perform performs solve solves contain contains include includes consist consists mitigate mitigates address "
    "addresses handle handles produce produces generate generates yield yields improve improves reduce reduces "
    "increase increases rely relies depend depends follow follows serve serves play plays drive drives explain "
    "explains describe describes evaluate evaluates power powers trigger triggers determine determines control "
    "controls prevent prevents avoid avoids encourage encourages discourage discourages motivate motivates combine "
    "combines support supports match matches exceed exceeds surpass surpasses go goes come comes become becomes "
    "remain remains appear appears emerge emerges supply supplies provide provides offer offers"
)
_ED = re.compile(r"[^e]ed$")  # a verb's past tense ("proposed"; not "need", "seed")
_PUNCTUATION = re.compile(r"[?!;:,()\[\]]")  # ends what the question asks for (quotes hold a phrase of it)
# Words that follow a verb but do not go on a noun phrase: particles, articles, pronouns.
_AFTER_VERB = words("out up off down the a an this that these those it its their them his her our us me")
# Words of a question about several things side by side, each of which may be stated in a paper of its own.
_SIDE_BY_SIDE = words(
    "and or vs versus than compare compares compared comparing comparison differ differs differed difference "
    "differences between both against each respectively outperform outperforms beat beats better worse"
)
# Focus words that say what form the answer takes, not what it is about ("what fraction", "which problems").
_FOCUS_GENERIC = words(
    "idea ideas thing things aspect aspects part parts factor factors kind kinds type types way ways method methods "
    "technique techniques approach approaches component components problem problems issue issues challenge "
    "challenges limitation limitations advantage advantages benefit benefits reason reasons fraction fractions "
    "share proportion percentage percent ratio ratios amount amounts faster slower larger smaller higher lower "
    "better worse more less times money signal signals strategy strategies mechanism mechanisms trick tricks "
    "design designs choice choices change changes modification modifications measure measures step steps "
    # what "What is the ... of" asks for without saying what it is about: a size or a rate is a number, a name a
    # name ("What dropout rate": the passages about DeepSeek-V3 give learning rates); and "which benchmarks": the
    # answer names them ("a query from GAIA or AssistantBench")
    "size sizes rate rates name names purpose purposes role roles goal goals contribution contributions "
    "benchmark benchmarks"
)

_NOT_FOCUS = STOP | _FOCUS_GENERIC  # words the focus leaves out
# A name made an adjective ("GRPO-style clipping", "PPO-based recipes", "R1-Zero-like training"), or negated
# ("no-CoT guesses": "without any CoT reasoning steps"): the paper may say the name alone, and either form will do.
ADJECTIVE = re.compile(r"(?<=\w)-(?:style|like|based)$|^(?:no|non)-(?=\w)", re.IGNORECASE)


@dataclass
class Support:
    """What the question asks about that the judged passages do not mention."""

    missing_names: list[str] = field(default_factory=list)
    missing_numbers: list[str] = field(default_factory=list)
    missing_focus: list[str] = field(default_factory=list)
    focus_about: list[str] = field(default_factory=list)  # the names whose passages lack the focus, if any
    apart: list[str] = field(default_factory=list)  # names that no one paper mentions together

    @property
    def ok(self) -> bool:
        return not (self.missing_names or self.missing_numbers or self.missing_focus or self.apart)

    def reason(self) -> str:
        def quoted(words: list[str]) -> str:
            return ", ".join(f'"{w}"' for w in words)

        if self.apart and not (self.missing_names or self.missing_numbers or self.missing_focus):
            return f"no paper among the best passages mentions {' and '.join(quoted([w]) for w in self.apart)} together"
        if self.missing_focus and self.focus_about and not (self.missing_names or self.missing_numbers):
            return f"the passages about {quoted(self.focus_about)} never mention {quoted(self.missing_focus)}"
        parts = [*self.missing_names, *self.missing_numbers, *self.missing_focus]
        return "the best passages never mention " + quoted(parts) if parts else ""


def focus(question: str) -> list[str]:
    """The words of what the question asks for: the noun phrase after its first "how many", "how much",
    "which", "what" or "what is the", up to a verb, preposition, name, number or punctuation, without stop words
    and words that only say what form the answer takes. Empty when there is none ("What is MoBA?")."""
    match = _WH.search(question)
    if not match:
        return []
    rest = match.group(1)
    word = match.group(0).split(None, 1)[0].lower()
    if word.startswith("what"):
        article = (_COPULA if word == "what" else _ARTICLE).match(rest)
        rest = rest[article.end() :] if article else rest  # "What is the speedup", "What's the cost"
    in_names = {t.lower() for run in names(question) for t in run}
    words: list[str] = []
    found = tokens(_PUNCTUATION.split(rest, maxsplit=1)[0])  # "How many GPUs, and how much time"
    for n, token in enumerate(found):
        low = token.lower()
        if low in _FOCUS_END or low in in_names or any(c.isdigit() for c in token):
            break
        if n == 0 and _past(low, found[1].lower() if len(found) > 1 else ""):
            break
        if n > 0 and (low in _FOCUS_VERBS or (_ED.search(low) and found[n - 1].lower() in _NOT_FOCUS)):
            break  # "which layer keeps", "which papers discussed": the noun phrase has ended
        if low not in _NOT_FOCUS:
            words.append(low)
    return list(dict.fromkeys(words))


def _side_by_side(question: str) -> bool:
    """Whether the question asks about several things side by side ("compare", "and", "or", "than", ...)."""
    return any(token.lower() in _SIDE_BY_SIDE for token in tokens(question))


def _past(word: str, following: str) -> bool:
    """Whether the word right after the question word is a verb in the past tense, so that no noun follows:
    it ends in -ed and the next word is one no noun phrase goes on with ("What **turned** out to explain ...",
    "What **caused** the ..."), not "Which **pretrained** model" or "What **masked** tokens"."""
    return len(word) > 4 and _ED.search(word) is not None and following in _AFTER_VERB


def _found(
    catalog: Catalog, tokens: list[str], chunk_ids: Sequence[str], on_title_page: Callable[[str], bool] | None = None
) -> bool:
    """Whether the run of tokens occurs in the chunks, whole or cut into parts that each occur there. Given
    ``on_title_page``, a part without digits may also be on the paper's title page or in its abstract, so long as
    another part is in the chunks ("the Moonshot Muon report": the lab on the title page, Muon in the passage; not
    "Part 1" from a title page that cites Part 1). A part that is only a number does not count on its own, and
    parts that are each one plain word found in the chunks ("Segment", "Anything", "Model") do not make a name
    on their own: one part must be more than that (two words, a word such as "R1" or "DeepSeek", or on the
    title page). A part of several words may be written as one ("Hugging Face" as "huggingface")."""
    tokens = [w for token in tokens for w in re.findall(r"[^\W_]+", token)]  # O1-distilled → O1, distilled
    n = len(tokens)
    # reach[i]: how the first i tokens can be covered, as (a part is in the chunks, a part is more than a plain
    # word); a cover needs both
    reach: list[set[tuple[bool, bool]]] = [{(False, False)}] + [set() for _ in range(n)]
    for end in range(1, n + 1):
        for start in range(end):
            if not reach[start] or (True, True) in reach[end]:
                continue
            part = tokens[start:end]
            if len(part) == 1 and part[0].isdigit():
                continue
            phrase = " ".join(part)
            # written as one word, too: "Hugging Face" is "huggingface" in a URL, "Deep Seek" is "DeepSeek"
            titled = on_title_page is not None and not any(c.isdigit() for c in phrase)
            if catalog.has_phrase(phrase, chunk_ids) or (
                len(part) > 1 and catalog.has_phrase("".join(part), chunk_ids)
            ):
                strong = len(part) > 1 or len(part) == n or not _plain(part[0])
                strong = strong or (titled and on_title_page(phrase))  # "Moonshot" in both places
                reach[end] |= {(True, had or strong) for _, had in reach[start]}
            elif titled and on_title_page(phrase):
                reach[end] |= {(text, True) for text, _ in reach[start]}
    return (True, True) in reach[n]


def _plain(token: str) -> bool:
    """A word as any sentence might have it: letters only, capitalised at most ("Segment", "Model"; not "R1",
    "DeepSeek", "MoBA" or "GRPO")."""
    return token.isalpha() and (token.islower() or (token[0].isupper() and token[1:].islower()))


def support(catalog: Catalog, question: str, passages: Sequence[Passage], together: bool = True) -> Support:
    """Which of the question's names, numbers and focus words the passages lack (see the module doc). With
    ``together``, a question about one thing must also find all its names in one paper."""
    result = Support()
    if not passages:
        return result
    runs = names(question)
    named = _named(catalog, TitlePages(catalog), question, runs, passages)
    result.missing_names = [" ".join(run) for run, found in zip(runs, named, strict=True) if not found]
    if together and len(runs) > 1 and not result.missing_names and not _side_by_side(question):
        papers = [{p.chunk.paper_id for p in found} for found in named]
        if not set.intersection(*papers):
            result.apart = list(dict.fromkeys(" ".join(run) for run in runs))
    text = " ".join(p.chunk.text for p in passages)
    numbers = query_numbers(question)  # the 7B of "MiMo-7B" is checked as part of the name
    found = numbers_in(numbers, text)
    result.missing_numbers = [n.text for n in numbers if n not in found]
    wanted = focus(question)
    # What the question asks for counts where it is said of what the question is about: in a passage that
    # mentions one of its names (any passage, for a question without names). When no passage mentions any of
    # its names, that alone is the reason.
    about = list({p.chunk.id: p for found in named for p in found}.values()) if runs else list(passages)
    if wanted and about:
        missing = min(([w for w in wanted if not catalog.has_phrase(w, [p.chunk.id])] for p in about), key=len)
        if len(wanted) - len(missing) < (len(wanted) + 1) // 2:
            result.missing_focus = missing
            result.focus_about = [" ".join(run) for run, found in zip(runs, named, strict=True) if found]
    return result


def unnamed(
    catalog: Catalog, question: str, passages: Sequence[Passage], titles: TitlePages | None = None
) -> list[list[str]]:
    """The question's names (runs of tokens) that none of the passages mentions (see ``support``)."""
    runs = names(question)
    named = _named(catalog, titles or TitlePages(catalog), question, runs, passages)
    return [run for run, found in zip(runs, named, strict=True) if not found]


def _named(
    catalog: Catalog, titles: TitlePages, question: str, runs: list[list[str]], passages: Sequence[Passage]
) -> list[list[Passage]]:
    """named[i]: the passages that mention name run i (or whose paper it names), or another name for it."""
    return _either([[p for p in passages if _mentions(catalog, titles, run, p)] for run in runs], question, runs)


def _either(named: list[list[Passage]], question: str, runs: list[list[str]]) -> list[list[Passage]]:
    """The passages of each name, those of the other names the question gives for the same thing added
    (footnote.names.aliases: "the Moonshot audio model (Kimi-Audio)"; the paper may say only one of them). A name
    given twice is one name."""
    group = list(range(len(runs)))

    def root(i: int) -> int:
        while group[i] != i:
            i = group[i]
        return i

    first: dict[tuple[str, ...], int] = {}
    for i, run in enumerate(runs):
        group[i] = root(first.setdefault(tuple(run), i))
    for one, other in aliases(question):
        if one in first and other in first:
            group[root(first[one])] = root(first[other])
    passages: dict[int, dict[str, Passage]] = {}
    for i, found in enumerate(named):
        passages.setdefault(root(i), {}).update((p.chunk.id, p) for p in found)
    return [list(passages[root(i)].values()) for i in range(len(runs))]


def mentions(catalog: Catalog, run: list[str], passage: Passage, titles: TitlePages | None = None) -> bool:
    """Whether the passage mentions the name, as ``support`` counts it (``titles``: the title-page answers
    already known, shared by the calls for one question)."""
    return _mentions(catalog, titles or TitlePages(catalog), run, passage)


def _mentions(catalog: Catalog, titles: TitlePages, run: list[str], passage: Passage) -> bool:
    """Whether the passage mentions the name: in its text, or, when it does not spell it out, as the name of
    its paper ("Moonlight", "Understanding R1-Zero-Like Training": on its title page or in its abstract), or
    in parts, some in its text and the others there; a name made an adjective or negated ("GRPO-style",
    "no-CoT") either as it is or as the name alone."""
    paper = passage.chunk.paper_id
    for form in dict.fromkeys((tuple(run), tuple(ADJECTIVE.sub("", t) for t in run))):
        if titles.holds(" ".join(form), paper) or _found(
            catalog, list(form), [passage.chunk.id], lambda phrase: titles.holds(phrase, paper)
        ):
            return True
    return False


class TitlePages:
    """Whether a paper's title page or abstract holds a phrase, each asked of the catalog once: the passages
    judged for one question often come from one paper, and each asks the same of it."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.known: dict[tuple[str, str], bool] = {}

    def holds(self, phrase: str, paper_id: str) -> bool:
        """Whether the phrase is there; a name of one word may also begin a longer one, as a lab's name begins
        its handle ("Moonshot": the Kimi-Audio paper says "github.com/MoonshotAI/Kimi-Audio" only)."""
        key = (phrase, paper_id)
        if key not in self.known:
            one_word = re.fullmatch(r"[A-Z][a-z]{4,}", phrase) is not None
            self.known[key] = self.catalog.names_any(phrase, [paper_id]) or (
                one_word and self.catalog.names_any(phrase, [paper_id], prefix=True)
            )
        return self.known[key]
