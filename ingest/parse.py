"""PDF → page texts in reading order, with section headings, via PyMuPDF.

Each page's text is built from PyMuPDF's text blocks (fast, and in content-stream order, which
for two-column LaTeX papers is column by column), with line ends dehyphenated exactly as
``page.get_text("text", flags=TEXT_FLAGS)`` does, so every block is PyMuPDF's own text of the
page. Running headers, footers, bare page numbers, the arXiv margin stamp and invisible (sub-1pt)
text are dropped; tables and captions are kept. Headings come from the
PDF outline when it has one and from the shape of short blocks otherwise.

Speed: reading a page's text into MuPDF (its TextPage) is most of the cost. Drawing that cannot
hold text, such as the thousands of marker forms of a scatter plot, is emptied first
(``ingest.forms``), and each page is read once, page 1's title included. Of the rest, PyMuPDF's
"dict" output, a Python dict per span, is the dearest. Most pages are read from the much cheaper
"blocks" output instead, which gives the same blocks whenever a page has no sub-1pt text and no
line that "dict" would drop (see ``_blocks_are_exact``).
"""

from __future__ import annotations

import contextlib
import itertools
import re
import sys
import unicodedata
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from footnote.errors import PDFError
from footnote.text import plain_math

# PyMuPDF 2 imports two companion packages with itself: pymupdf_layout, which loads an ONNX layout model for
# Page.get_layout, and pymupdf4llm, for its to_markdown helpers; with onnxruntime they cost 0.4-0.6 s per process,
# and footnote calls neither. While pymupdf is imported here, None entries make those imports fail, which pymupdf
# catches and goes on without them; the text it extracts is the same (checked on the corpus). Afterwards the
# entries go, so code that imports either package itself later gets it. A process that already has pymupdf keeps
# what it has.
_SKIPPED = [] if "pymupdf" in sys.modules else [n for n in ("pymupdf.layout", "pymupdf4llm") if n not in sys.modules]
sys.modules.update(dict.fromkeys(_SKIPPED))
try:
    import pymupdf

    from ingest.forms import empty_textless_forms
finally:
    for _name in _SKIPPED:
        if sys.modules.get(_name, 0) is None:
            del sys.modules[_name]


# MuPDF prints each problem it meets in a damaged file on stderr ("MuPDF error: format error: object is not a
# stream", a dozen for one truncated paper); footnote reports a damaged paper in one line of its own instead
# (`ParsedPDF.repaired`, `ingest.pipeline`), so MuPDF's own lines are kept off the terminal.
pymupdf.TOOLS.mupdf_display_errors(False)
pymupdf.TOOLS.mupdf_display_warnings(False)

# Dehyphenate line ends, expand ligatures (no PRESERVE_LIGATURES), clip to the page box.
TEXT_FLAGS = pymupdf.TEXT_DEHYPHENATE | pymupdf.TEXT_MEDIABOX_CLIP

# Control characters (C0 but tab/newline, DEL, C1), lone surrogates, private-use characters of the
# BMP and of planes 15-16, and the replacement character.
_JUNK = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ue000-\uf8ff\ufffd\U000f0000-\U0010ffff]")


def clean(text: str) -> str:
    """Drop control, surrogate and private-use characters; write math letters as letters (footnote.text.plain_math);
    fold whitespace to single spaces."""
    text = plain_math(text)
    # str.split() splits on exactly the characters regex \s matches, and is twice as fast here.
    return " ".join(_JUNK.sub("", unicodedata.normalize("NFC", text)).split())


@dataclass(frozen=True)
class Section:
    """A run of the paper's text under one heading; offsets index ``ParsedPDF.text``."""

    title: str
    kind: str
    char_start: int
    char_end: int


@dataclass(frozen=True)
class ParsedPDF:
    title: str
    page_count: int
    pages: tuple[str, ...]  # cleaned text of each page, blocks joined by "\n"
    sections: tuple[Section, ...]
    skipped_pages: tuple[int, ...] = ()  # pages whose text could not be read (1-based)
    repaired: bool = False  # MuPDF had to rebuild the file's cross-reference table: the file is damaged

    def damage(self) -> str | None:
        """What is wrong with the file, in words, or None: repaired by MuPDF, pages unreadable or left empty."""
        if not self.repaired and not self.skipped_pages:
            return None
        empty = [n for n, page in enumerate(self.pages, start=1) if not page.strip() or n in self.skipped_pages]
        said = "damaged PDF, repaired by MuPDF" if self.repaired else "some pages could not be read"
        return f"{said}; {_page_list(empty)} no text" if empty else said

    @property
    def text(self) -> str:
        return "\n".join(self.pages)

    def page_offsets(self) -> list[int]:
        """Start offset of each page in ``text``."""
        offsets, pos = [], 0
        for page in self.pages:
            offsets.append(pos)
            pos += len(page) + 1
        return offsets


# ---------------------------------------------------------------- section kinds

_KINDS: list[tuple[str, re.Pattern[str]]] = [
    ("abstract", re.compile(r"^abstract\b")),
    ("references", re.compile(r"^(references|bibliography|works cited)\b")),
    ("acknowledgments", re.compile(r"^(acknowledg|contributions and acknowledg|author contributions|contributors)")),
    ("appendix", re.compile(r"^(appendix|appendices|supplementary)")),
    ("limitations", re.compile(r"limitation|broader impact|ethic|societal|challenges")),
    ("conclusion", re.compile(r"conclusion|concluding|future (work|direction)|summary and|outlook")),
    ("introduction", re.compile(r"^introduction|^overview$")),
    ("related", re.compile(r"related work|background|preliminar|prior work")),
    ("results", re.compile(r"result|analysis|ablation|performance|comparison|finding|discussion|study")),
    ("experiments", re.compile(r"experiment|evaluation|setup|setting|benchmark|dataset|implementation|baseline")),
    (
        "method",
        re.compile(
            r"method|approach|architecture|model|framework|training|algorithm|design|recipe|"
            r"data|pipeline|reward|policy|learning|system|formulation|objective"
        ),
    ),
]

_NAMED = re.compile(
    r"^(abstract|references|bibliography|acknowledge?ments?|appendix|appendices|conclusions?|limitations|"
    r"related work|introduction|discussion|broader impacts?|ethics statement|contributions and acknowledgments|"
    r"conclusion and future work|conclusions and future work|limitations and future work)\b",
    re.IGNORECASE,
)
_NUMBERED = re.compile(r"^(?P<num>(?:\d{1,2}|[A-H])(?:\.\d{1,2}){0,3})\.?\s+(?P<title>[A-Z][^\n]{1,90})$")


def section_kind(title: str, parent: str | None = None) -> str:
    bare = _NUMBERED.match(title)
    name = (bare.group("title") if bare else title).strip().lower()
    for kind, pattern in _KINDS:
        if pattern.search(name):
            return kind
    return parent or "other"


# ---------------------------------------------------------------- blocks


@dataclass
class _Block:
    page: int
    y0: float
    y1: float
    x1: float
    text: str


# A hyphen that ends a line, marked until the whole paper is read (`_resolve_hyphens`): then it goes where it broke
# a word ("perfor-" + "mance") and stays where it joins one ("SWE-" + "smith", "step-" + "by-step", "fine-" +
# "tuning" where the paper writes "fine-tuning" elsewhere). WORD JOINERs around it: no paper's text has them, and
# clean() keeps them.
LINE_HYPHEN = "\u2060-\u2060"


def _dehyphenate(lines: list[str]) -> list[str]:
    """Join a block's lines where one ends in "-", the hyphen marked (``LINE_HYPHEN``) for `_resolve_hyphens`.

    PyMuPDF's own TEXT_DEHYPHENATE always drops the hyphen ("SWE-" / "smith" reads "SWEsmith", "step-" /
    "by-step" "stepby-step"); the "blocks" and "dict" outputs ignore the flag, which leaves the choice here. A
    block's last line keeps the mark, with nothing after it.
    """
    out: list[str] = []
    carry = ""
    for line in lines:
        line = carry + line
        carry = ""
        if line.endswith("-"):
            carry = line[:-1] + LINE_HYPHEN
        else:
            out.append(line)
    if carry:
        out.append(carry)
    return out


_WORD_END = re.compile(r"(-?)(\w*)$")  # searched only in the few characters before a mark
_WORD_START = re.compile(r"(\w*)(-?)")


def _settle_marks(text: str, settle) -> str:
    """``text`` with each marked hyphen replaced by what ``settle(compound, before, after, more)`` makes of the
    words around it: ``before`` (after a hyphen of a compound, ``compound`` is "-") and ``after`` (before one,
    ``more`` is "-"). Split at the marks rather than one regular expression over the block (43 -> 24 ms here)."""
    parts = text.split(LINE_HYPHEN)
    out = parts[0]
    for part in parts[1:]:
        tail = _WORD_END.search(out[-64:])
        compound, before = (tail.group(1), tail.group(2)) if tail else ("", "")
        if compound and not before:
            compound = ""
        head = _WORD_START.match(part)
        after, more = head.group(1), head.group(2)
        out = out[: len(out) - len(compound) - len(before)] + settle(compound, before, after, more)
        out += part[len(after) + len(more) :]
    return out


_WORD_RUN = re.compile(r"[0-9a-z]+(?:-[0-9a-z]+)*")  # ASCII: twice as fast as \w here; pairs are mostly ASCII


def _spellings(text: str) -> Counter[str]:
    """The words of ``text`` (lower case) with how often each stands there, hyphenated words also by each run of
    their parts ("text-to-image" counts for "text-to", "to-image" and "text-to-image")."""
    counts: Counter[str] = Counter(_WORD_RUN.findall(text.lower()))
    for word, n in list(counts.items()):
        if "-" in word:
            parts = word.split("-")
            for i in range(len(parts)):
                for j in range(i + 2, len(parts) + (i > 0)):
                    counts["-".join(parts[i:j])] += n
    return counts


_FLOATS_BETWEEN = 4  # the most blocks (footnotes, captions) that stand between a column's end and the next one's


def _bring_up_continuations(blocks: list[_Block], is_word) -> None:
    """Where a block ends in the middle of a word (a line-end hyphen) and the blocks after it are floats, a
    footnote or a caption that MuPDF reads before the next column ("includ-", then "*Equal contribution ...",
    "Figure 1. ...", then "ing coding (Hong et al., 2023), ..."), move the block that goes on with the word's end
    up to it: within `_FLOATS_BETWEEN` blocks, the first to the right of the broken one (the next column) whose
    first word ends the broken one as a word the paper writes (``is_word``: "including", not "includfailure" of a
    caption's second line)."""
    for i, first in enumerate(blocks):
        if not first.text.endswith(LINE_HYPHEN) or i + 1 >= len(blocks) or blocks[i + 1].text[:1].islower():
            continue
        start = _WORD_END.search(first.text[: -len(LINE_HYPHEN)][-64:]).group(2)
        for j in range(i + 2, min(len(blocks), i + 2 + _FLOATS_BETWEEN)):
            then = blocks[j]
            end = _WORD_START.match(then.text).group(1)
            if then.text[:1].islower() and then.x1 > first.x1 + 50 and start and is_word(start + end):
                blocks.insert(i + 1, blocks.pop(j))
                break


def _resolve_hyphens(pages: list[list[_Block]]) -> None:
    """Settle each line-end hyphen of the paper, in place. Where the paper writes the pair inside its lines, its
    spelling there decides ("fine-tuning", "DeepSeekMoE"). Elsewhere the hyphen stays where the words are part of
    a compound ("text-to-" + "image", "step-" + "by-step") or a capital or a digit touches it ("SWE-" + "smith",
    "Qwen2.5-" + "7B"); otherwise the word was broken for the line and is joined ("perfor-" + "mance"). A block
    that ends in such a hyphen, before one that goes on in lower case, was cut there (a column's end: "ac-" +
    "curacy", "Polo-" + "sukhin"): the word's end moves up to it."""
    if not any(LINE_HYPHEN in b.text for blocks in pages for b in blocks):
        return
    words: set[str] = set()

    def is_word(word: str) -> bool:  # the paper's words, read only where a broken word needs them (rare)
        if not words:
            words.update(_WORD_RUN.findall("\n".join(b.text for blocks in pages for b in blocks).lower()))
        return word.lower() in words

    for blocks in pages:
        _bring_up_continuations(blocks, is_word)
        for first, then in itertools.pairwise(blocks):
            if first.text.endswith(LINE_HYPHEN) and then.text[:1].islower():
                word, _, rest = then.text.partition(" ")
                first.text += word
                then.text = rest
        blocks[:] = [b for b in blocks if b.text]
    # How the paper spells its words inside lines (a marked pair, with its joiners, is none of them).
    spelled = _spellings("\n".join(b.text for blocks in pages for b in blocks))

    def settle(compound: str, before: str, after: str, more: str) -> str:
        if not before or not after:
            return compound + before + after + more
        hyphenated, joined = spelled[f"{before}-{after}".lower()], spelled[(before + after).lower()]
        if hyphenated != joined:  # the paper's own spelling first: "DeepSeekMoE" 222 times, "fine-tuning"
            keep = hyphenated > joined
        else:  # a compound ("text-to-" + "image", "step-" + "by-step"), or a capital or a digit at the hyphen
            keep = bool(compound or more) or any(c.isupper() or c.isdigit() for c in (before[-1], after[0]))
        return compound + before + ("-" if keep else "") + after + more

    for blocks in pages:
        for b in blocks:
            if LINE_HYPHEN in b.text:
                b.text = clean(_settle_marks(b.text, settle))


_INVISIBLE_PT = 1.0  # spans set smaller than this are hidden payloads (e.g. LaTeXiT's base64 source)

# MuPDF's HTML export of a TextPage states the font size of every run of characters (one decimal),
# writes a newline character as "&#xa;" and opens a <p> for every line. A size not plainly 1.1pt or
# more may be sub-1pt text (LaTeXiT writes its payload at ~3e-7pt).
_SMALL_SIZE = re.compile(r"font-size:(?!(?:[2-9]|[1-9]\d+)\.\dpt|1\.[1-9]pt)")
_HTML_LINE = "<p style="


def _blocks_are_exact(textpage: pymupdf.TextPage, blocks: list[tuple]) -> bool:
    r"""Whether ``extractBLOCKS`` gives this page the blocks that ``extractDICT`` would.

    "blocks" writes each block's characters with every line that has a non-empty box ended by
    "\n". Beyond the sub-1pt spans dropped here, "dict" leaves out lines with an empty box (the
    zero-height characters of LaTeXiT's payload) and lines outside the page box. So "blocks" does
    if no character is under 1pt, none is itself a newline (a false line end), every line of the
    page was ended by "\n" (no empty boxes) and every block lies inside the page box. The HTML
    export tells sizes and lines for a fifth of what "dict" costs. One case stays unseen: "dict"
    also drops a line-final run of zero-width characters set in a font or size of its own, which
    "blocks" keeps, as ``get_text("text")`` does; the corpus has none.
    """
    html = textpage.extractHTML()
    if _SMALL_SIZE.search(html) or "&#xa;" in html:
        return False
    if sum(text.count("\n") for *_, text, _n, _kind in blocks) != html.count(_HTML_LINE):
        return False
    box = textpage.rect
    return all(box.x0 < x0 and box.y0 < y0 and x1 < box.x1 and y1 < box.y1 for x0, y0, x1, y1, *_ in blocks)


def _page_blocks(textpage: pymupdf.TextPage, pno: int) -> list[_Block]:
    """A page's text blocks: from "blocks" where that is exact, else from "dict"."""
    try:
        blocks = textpage.extractBLOCKS()
        exact = _blocks_are_exact(textpage, blocks)
    except Exception:  # the fast path failing is no reason to lose a page "dict" may read
        exact = False
    if not exact:
        return _dict_blocks(textpage, pno)
    out = []
    for _x0, y0, x1, y1, text, _n, kind in blocks:
        # Every line ends in "\n", so marking each "-\n" is _dehyphenate's join (and marks a last
        # line's hyphen); clean() then folds the other line ends into the single spaces that
        # joining the cleaned lines with " " gives.
        joined = clean(text.replace("-\n", LINE_HYPHEN)) if kind == 0 else ""
        if joined:
            out.append(_Block(pno, y0, y1, x1, joined))
    return out


def _dict_blocks(textpage: pymupdf.TextPage, pno: int) -> list[_Block]:
    """A page's blocks from PyMuPDF's span-level "dict", where sub-1pt spans can be dropped."""
    out = []
    for block in textpage.extractDICT()["blocks"]:
        if block.get("type", 0) != 0:
            continue
        raw = [
            "".join(span["text"] for span in line["spans"] if span["size"] >= _INVISIBLE_PT)
            for line in block.get("lines", [])
        ]
        lines = [clean(line) for line in _dehyphenate(raw)]
        joined = " ".join(line for line in lines if line)
        if joined:
            _x0, y0, x1, y1 = block["bbox"]
            out.append(_Block(pno, y0, y1, x1, joined))
    return out


_PAGE_NUMBER = re.compile(r"^(page\s*)?[-–—(]?\s*\d{1,4}\s*[-–—)]?(\s*(of|/)\s*\d{1,4})?$", re.IGNORECASE)
_ARXIV_STAMP = re.compile(r"^arXiv:\d{4}\.\d{4,5}(v\d+)?\s*\[", re.IGNORECASE)


_DIGITS = re.compile(r"\d+")


def _margin_key(text: str) -> str:
    return _DIGITS.sub("#", text.lower())[:80]


def _drop_running_text(pages: list[list[_Block]], heights: list[float], widths: list[float]) -> None:
    """Remove running headers/footers, bare page numbers and the arXiv stamp, in place."""

    def in_margin(b: _Block, h: float) -> bool:
        return b.y1 <= 0.10 * h or b.y0 >= 0.90 * h

    counts: Counter[str] = Counter()
    body_titles: set[str] = set()
    for blocks, h in zip(pages, heights, strict=True):
        counts.update({_margin_key(b.text) for b in blocks if in_margin(b, h) and len(b.text) < 160})
        body_titles.update(_norm_title(b.text) for b in blocks if b.y1 > 0.07 * h and len(b.text) < 110)
    repeat = max(3, int(0.3 * len(pages)))

    def running_heading(b: _Block, h: float) -> bool:
        # A running header that repeats the current section's heading (e.g. "2. Introduction", or
        # "References" atop each page of the bibliography).
        if b.y1 > 0.07 * h or _norm_title(b.text) not in body_titles:
            return False
        return bool(_NUMBERED.match(b.text)) or (bool(_NAMED.match(b.text)) and counts[_margin_key(b.text)] >= 2)

    for i, (blocks, h, w) in enumerate(zip(pages, heights, widths, strict=True)):
        pages[i] = [
            b
            for b in blocks
            if not (
                _ARXIV_STAMP.match(b.text)
                or (b.x1 <= 0.08 * w and len(b.text) < 120)
                or (in_margin(b, h) and (_PAGE_NUMBER.match(b.text) or counts[_margin_key(b.text)] >= repeat))
                or running_heading(b, h)
            )
        ]


# ---------------------------------------------------------------- headings


_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def _norm_title(text: str) -> str:
    text = _NUMBERED.sub(r"\g<title>", text)
    return _NOT_ALNUM.sub("", text.lower())


def _outline(doc: pymupdf.Document) -> dict[int, list[str]]:
    """Titles from the PDF outline, by 1-based page."""
    by_page: dict[int, list[str]] = {}
    try:
        toc = doc.get_toc(simple=True)
    except Exception:  # a broken outline is no reason to lose the paper
        return {}
    for _level, title, page in toc:
        key = _norm_title(clean(title))
        if key and page >= 1:
            by_page.setdefault(page, []).append(key)
    return by_page


_ABSTRACT_RUN_IN = re.compile(r"^(abstract)\s*[:.—–-]?\s", re.IGNORECASE)
_NOT_A_TITLE = re.compile(r"\d{3,}|[=<>%]|\s\d{1,3}$|\s\d{1,2}\s[A-Z]")


def _heading_of(block: _Block, outline: dict[int, list[str]], last_top: list[int]) -> str | None:
    """The heading text if this block is a section heading, else None."""
    text = block.text
    if len(text) > 110 or len(text.split()) > 14:
        return "Abstract" if block.page <= 2 and _ABSTRACT_RUN_IN.match(text) else None
    if _NAMED.match(text) and not text.endswith((".", ",", ";")) and len(text.split()) <= 8:
        return text
    m = _NUMBERED.match(text)
    if not m or text.endswith((".", ",", ";", ":")):
        return None  # sentences
    # Table rows, contents lines ("1 Introduction 3"), affiliations ("1 X 2 Y"): unless the outline has this very
    # title ("7. DeepSeekMoE 145B Ongoing", whose 145 reads like a table's number)
    row_like = _NOT_A_TITLE.search(m.group("title")) is not None
    if outline:
        key = _norm_title(text)
        titles = outline.get(block.page, []) + outline.get(block.page - 1, []) + outline.get(block.page + 1, [])
        if row_like:
            return text if key in titles else None
        return (
            text
            if any(
                key == t or (len(t) > 8 and key.startswith(t)) or (len(key) > 8 and t.startswith(key)) for t in titles
            )
            else None
        )
    if row_like:
        return None
    num = m.group("num")
    top = num.split(".")[0]
    if top.isdigit():
        n = int(top)
        if not (last_top[0] <= n <= last_top[0] + 2):
            return None
        last_top[0] = n
    return text


# ---------------------------------------------------------------- entry point


def parse_pdf(source: Path | bytes, *, max_pages: int = 300, name: str | None = None) -> ParsedPDF:
    """Parse a PDF into cleaned page texts and sections. Raises PDFError with a one-line reason."""
    label = name or (source.name if isinstance(source, Path) else "PDF")
    if any(ord(c) < 32 or ord(c) == 127 for c in label):
        label = repr(label)  # keep the message on one line
    data = source.read_bytes() if isinstance(source, Path) else source
    if not data.startswith(b"%PDF-"):
        raise PDFError(f"{label}: not a PDF (starts with {data[:15]!r})")
    if b"%%EOF" not in data[-4096:]:
        raise PDFError(f"{label}: truncated PDF (no %%EOF marker at the end)")
    try:
        doc = pymupdf.open(stream=data, filetype="pdf")
    except Exception as exc:
        raise PDFError(f"{label}: damaged PDF ({clean(str(exc)) or type(exc).__name__})") from None
    with doc:
        try:
            pages_blocks, heights, widths, skipped, outline, meta_title, big_title = _read(doc, label, max_pages)
            repaired = bool(doc.is_repaired)
        except PDFError:
            raise
        except Exception as exc:  # MuPDF failing outside a single page: the file is broken as a whole
            raise PDFError(f"{label}: damaged PDF ({clean(str(exc)) or type(exc).__name__})") from None
    if sum(len(b.text) for blocks in pages_blocks for b in blocks) < 100:
        raise PDFError(f"{label}: no extractable text (scanned or image-only PDF?)")
    _resolve_hyphens(pages_blocks)
    _drop_running_text(pages_blocks, heights, widths)
    title = big_title if _plausible_title(big_title) else meta_title
    return replace(_assemble(pages_blocks, outline, title, tuple(skipped)), repaired=repaired)


def _read(doc: pymupdf.Document, label: str, max_pages: int):
    """Blocks, page sizes, unreadable pages, outline and title candidates of an open document."""
    if doc.needs_pass:
        raise PDFError(f"{label}: encrypted PDF (needs a password)")
    page_count = doc.page_count  # read once: MuPDF may repair a damaged file while loading pages
    if page_count == 0:
        raise PDFError(f"{label}: PDF has no pages")
    if page_count > max_pages:
        raise PDFError(f"{label}: {page_count} pages, over the limit of {max_pages} (ingest.max_pages)")
    pages_blocks: list[list[_Block]] = []
    heights: list[float] = []
    widths: list[float] = []
    skipped: list[int] = []
    big_title = ""
    forms_seen: set[int] = set()
    for pno in range(1, page_count + 1):
        try:
            page = doc[pno - 1]
            # Only a saving: a form MuPDF cannot read is left for the page's reading to judge.
            with contextlib.suppress(Exception):
                empty_textless_forms(pymupdf.mupdf.pdf_page_from_fz_page(page.this).obj(), forms_seen)
            rect = page.rect
            height, width = rect.height or 792.0, rect.width or 612.0
            textpage = page.get_textpage(flags=TEXT_FLAGS)  # MuPDF reads the page once, for every output
            blocks = _page_blocks(textpage, pno)
            if pno == 1:
                big_title = _largest_text(textpage, height)
        except Exception:  # one unreadable page never discards the paper
            height, width, blocks = 792.0, 612.0, []
            skipped.append(pno)
        pages_blocks.append(blocks)
        heights.append(height)
        widths.append(width)
    outline = _outline(doc)
    try:
        meta_title = clean((doc.metadata or {}).get("title") or "")
    except Exception:  # unreadable metadata is no reason to lose the paper
        meta_title = ""
    return pages_blocks, heights, widths, skipped, outline, meta_title, big_title


def _assemble(
    pages_blocks: list[list[_Block]], outline: dict[int, list[str]], meta_title: str, skipped: tuple[int, ...]
) -> ParsedPDF:
    pages: list[str] = []
    sections: list[Section] = []
    current_title, current_kind, current_start = "Front matter", "front", 0
    parent_kind: str | None = None
    after_references = False
    last_top = [0]
    pos = 0
    for blocks in pages_blocks:
        page_start = pos
        parts: list[str] = []
        for block in blocks:
            heading = _heading_of(block, outline, last_top)
            if heading:
                if pos > current_start:
                    sections.append(Section(current_title, current_kind, current_start, pos))
                numbered = _NUMBERED.match(heading)
                top_level = not numbered or "." not in numbered.group("num")
                kind = section_kind(heading, None if top_level else parent_kind)
                if after_references and kind not in ("appendix", "acknowledgments", "references"):
                    kind = "appendix"
                if kind == "references":
                    after_references = True
                if top_level:
                    parent_kind = kind
                current_title, current_kind, current_start = heading, kind, pos
            parts.append(block.text)
            pos += len(block.text) + 1
        page_text = "\n".join(parts)
        pos = page_start + len(page_text) + 1
        pages.append(page_text)
    end = pos - 1
    if end > current_start:
        sections.append(Section(current_title, current_kind, current_start, end))
    title = meta_title if _plausible_title(meta_title) else _first_lines(pages)
    return ParsedPDF(
        title=title, page_count=len(pages), pages=tuple(pages), sections=tuple(sections), skipped_pages=skipped
    )


def _largest_text(textpage: pymupdf.TextPage, height: float) -> str:
    """The horizontal lines set in the largest font in the top half of a page (the title, on page 1)."""
    try:
        blocks = textpage.extractDICT()["blocks"]
    except Exception:
        return ""
    lines = [
        (max(span["size"] for span in line["spans"]), clean("".join(span["text"] for span in line["spans"])))
        for block in blocks
        for line in block.get("lines", [])
        if line["spans"] and line.get("dir", (1, 0)) == (1, 0) and line["bbox"][3] <= height / 2
    ]
    lines = [(size, text) for size, text in lines if text and not _ARXIV_STAMP.match(text)]
    if not lines:
        return ""
    top = max(size for size, _ in lines)
    title = clean(" ".join(text for size, text in lines if size >= 0.9 * top))
    return re.sub(r"\s+abstract$", "", title, flags=re.IGNORECASE)[:300]


def _page_list(pages: list[int]) -> str:
    """ "page 3 has", "pages 14-15 have", "pages 2, 5-7 have"."""
    runs: list[list[int]] = []
    for n in pages:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    text = ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)
    return f"page {text} has" if len(pages) == 1 else f"pages {text} have"


def _plausible_title(title: str) -> bool:
    return 8 <= len(title) <= 300 and not re.search(r"\.(pdf|docx?|tex)$|^untitled|^microsoft word", title, re.I)


def _first_lines(pages: list[str]) -> str:
    for page in pages:
        for line in page.split("\n"):
            if len(line) >= 8:
                return line[:200]
    return "Untitled"
