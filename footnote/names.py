"""Names in a question: model, benchmark and paper names ("Llama 4 Maverick", "WMT14", "MiMo-7B", "Kimi k1.5").

Shared by retrieval (a question that names a paper is searched within it too, index.route) and abstention (the
passages must mention every name, qa.abstain)."""

from __future__ import annotations

import re


def words(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOP = words(
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
_POSSESSIVE = re.compile(r"(?<=\w)['’]s\b")  # "MoBA's" is "MoBA"
_ROMAN = re.compile(r"I{2,3}|IV|VI{1,3}|IX|XI{1,3}")  # II to XIII but V and X ("I", "V", "X" alone are names)
# A bare number in a run of names: it belongs to the word before it ("Llama 4", "Qwen 2.5"); index.route and
# qa.cite split a run into words by it.
BARE_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_TOP_N = re.compile(r"top-(?:\d+|k)", re.IGNORECASE)  # "top-9 experts", "top-K routing": a count, not a name
_BREAK = re.compile(r"[?!;:,()\[\]\"“”/]")  # between two words: they belong to different names ("Moonlight/Muon")


def tokens(question: str) -> list[str]:
    return _TOKEN.findall(_POSSESSIVE.sub("", question))


def _is_name(token: str, first: bool) -> bool:
    if _TOP_N.fullmatch(token):
        return False
    has_digit = any(c.isdigit() for c in token)
    has_alpha = any(c.isalpha() for c in token)
    if has_digit and has_alpha:
        return True
    return has_alpha and not first and any(c.isupper() for c in token) and token.lower() not in STOP


def names(question: str, *, opening: bool = False) -> list[list[str]]:
    """Runs of name tokens ("Llama 4 Maverick" is one run; a bare number joins the name before it). A run ends
    at punctuation between words: "... with Kimi k1.5? DeepSeek-R1 ..." holds two names, not one. The first
    word, capitalised as any sentence's is, is a name only with ``opening`` (a claim: "Llama 4 Scout supports
    ..."), and then only where it looks like one whatever its place: a digit or a capital inside it ("MoBA",
    "GPT-5"), or a number after it ("Llama 4", "Kimi k1.5"); "Training Llama 4 Scout ..." names "Llama 4 Scout"."""
    return [run for run, _, _ in _runs(_POSSESSIVE.sub(",", question), opening)]


def _opens_with_name(token: str, following: str) -> bool:
    """Whether a claim's first word is a name (``names`` with ``opening``); ``following``: the text after it."""
    if not _is_name(token, first=False):
        return False
    inner = any(c.isdigit() for c in token) or any(c.isupper() for c in token[1:])
    return inner or (not _NOT_OPENING_NAME.fullmatch(token) and bool(_NUMBERED_NEXT.match(following)))


# After a claim's first word, the number or version that makes it a name: "Llama 4", "Kimi k1.5", "Gemini 2.5".
_NUMBERED_NEXT = re.compile(r"\s+(?:\d+(?:\.\d+)?|[a-z]{1,2}\d[\w.]*)\b(?!\s*(?:%|×|x\b|times\b|-?fold\b))")
# Opening words that a number follows without being a name's: "Roughly 5% ...", "Since 2023 ...", "Table 7 ...".
_NOT_OPENING_NAME = re.compile(
    r"\w+(?:ly|ing)|since|around|about|over|under|after|before|until|nearly|almost|only|just|each|every|"
    r"table|figure|fig|section|appendix|equation|eq|algorithm|line|page|step|stage",
    re.IGNORECASE,
)


def _runs(text: str, opening: bool = False) -> list[tuple[list[str], int, int]]:
    """The runs of names() with where each starts and ends in the text."""
    runs: list[tuple[list[str], int, int]] = []
    current: list[str] = []
    start = end = 0
    for i, match in enumerate(_TOKEN.finditer(text)):
        token = match.group()
        gap = text[end : match.start()]
        # A full stop ends a name too, unless it ends an abbreviation ("Dr. GRPO", "vs. GPT-4o").
        if current and (_BREAK.search(gap) or (gap.startswith(".") and len(current[-1]) > 3)):
            runs.append((current, start, end))
            current = []
        if _ROMAN.fullmatch(token):  # "Stage III", "Part II": a number, which joins a name but starts none
            if current:
                current.append(token)
        elif (
            (opening and i == 0 and _opens_with_name(token, text[match.end() :]))
            or _is_name(token, first=i == 0)
            or (current and BARE_NUMBER.fullmatch(token))
        ):
            if not current:
                start = match.start()
            current.append(token)
        elif current:
            runs.append((current, start, end))
            current = []
        end = match.end()
    if current:
        runs.append((current, start, end))
    # Short generic acronyms on their own (RL, LLM, GPU, US) say little about the topic.
    return [
        (r, s, e) for r, s, e in runs if not (len(r) == 1 and r[0].rstrip("s").isalpha() and len(r[0].rstrip("s")) <= 3)
    ]


_PARENTHESES = re.compile(r"\(([^()]*)\)")
# Between a name and a parenthesis, what ends the clause the parenthesis glosses (a full stop, not a decimal point)
_CLAUSE = re.compile(r"[?!;:,\[\]\"“”]|\.(?!\S)")


def aliases(question: str, *, opening: bool = False) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """Pairs of names the question gives for one thing: a name in parentheses that is all they hold, and the last
    name before them in the same clause ("the Moonshot audio model (Kimi-Audio)", "Qwen2.5-Omni (Thinker-Talker)";
    "Qwen2.5-Omni (the Thinker)" is no pair). Either of the two may be the one a paper uses."""
    text = _POSSESSIVE.sub(",", question)
    runs = _runs(text, opening)
    pairs = []
    for match in _PARENTHESES.finditer(text):
        inside = [run for run, s, e in runs if s >= match.start(1) and e <= match.end(1)]
        if len(inside) != 1 or inside[0] != tokens(match.group(1)):
            continue
        before = [(run, e) for run, s, e in runs if e <= match.start()]
        if before and not _CLAUSE.search(text[before[-1][1] : match.start()]):
            pairs.append((tuple(before[-1][0]), tuple(inside[0])))
    return pairs
