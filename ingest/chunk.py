"""Sentence-aware chunking: every chunk lies inside one section and knows its pages."""

from __future__ import annotations

import bisect
import contextlib
import functools
import importlib.util
import os
import re
import sys
import threading
import types
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from footnote.names import words
from footnote.types import Chunk

if TYPE_CHECKING:  # pymupdf is not needed to split a passage into sentences at query time
    from ingest.parse import ParsedPDF

TokenCounter = Callable[[Sequence[str]], list[int]]

_MIN_SECTION_CHARS = 40  # a section that is only its heading makes no chunk


_PUNKT_LOCK = threading.Lock()
# Abbreviations of scholarly prose that Punkt's English model (trained on news) does not know, so that it ends a
# sentence after them: "Pan et al. (2024a) show", "Fig. 3 shows", "see Eq. 2", "in App. B". On the corpus 332
# sentences outside the bibliographies ended in one of these, each cutting a sentence in two ("(2024a), compared to
# models fine-tuned on SWE-smith." was a sentence of its own).
ABBREVIATIONS = words("al fig figs eq eqs eqn sec secs tab app appx alg thm lem cf resp approx e.g i.e pp vol ref refs")
# After an abbreviation, a capitalised word that begins many sentences of papers still begins one ("... as in Pan
# et al. We then ..."); the model's own list is news's ("the", "however", "they", ...), without "we".
SENTENCE_STARTERS = words("we our here finally furthermore specifically notably next")


@functools.cache
def sentence_tokenizer():
    """NLTK's Punkt sentence splitter, from the data that llama-index-core ships (no download), knowing the
    abbreviations of papers (``ABBREVIATIONS``)."""
    with _PUNKT_LOCK:  # two threads asking first load one after the other, each with sys.modules to itself
        return _load_punkt()


def _load_punkt():
    # Only llama-index-core's folder is needed, not the package: importing it costs a second per process.
    spec = importlib.util.find_spec("llama_index.core")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("llama-index-core is not installed (its NLTK data splits sentences)")
    cache = os.path.join(next(iter(spec.submodule_search_locations)), "_static", "nltk_cache")
    with _nltk_without_init():
        from nltk.data import path
        from nltk.tokenize.punkt import PunktTokenizer

        if cache not in path:
            path.insert(0, cache)
        tokenizer = PunktTokenizer("english")
    params = tokenizer._params  # PunktParameters: the model's word lists, extended in place
    params.abbrev_types.update(ABBREVIATIONS)
    params.sent_starters.update(SENTENCE_STARTERS)
    return tokenizer


@contextlib.contextmanager
def _nltk_without_init():
    """NLTK's modules without running ``nltk/__init__.py``, which imports all of NLTK, scipy.stats among it
    (1-2 s here; Punkt needs 0.2 s of it). Within the block ``nltk`` is a bare package whose submodules import
    as usual; after it, they leave ``sys.modules`` again (the objects made from them keep working), so that
    whoever imports ``nltk`` later gets the whole package, initialised as usual. If NLTK is already imported,
    it is used as it is."""
    if "nltk" in sys.modules:
        yield
        return
    spec = importlib.util.find_spec("nltk")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("nltk is not installed (its Punkt model splits sentences)")
    bare = types.ModuleType("nltk")
    bare.__path__ = list(spec.submodule_search_locations)
    bare.__file__ = spec.origin
    sys.modules["nltk"] = bare
    try:
        yield
    finally:
        for name in [m for m in sys.modules if m == "nltk" or m.startswith("nltk.")]:
            del sys.modules[name]


# A line (a text block of the page) that opens a footnote ("*Equal contribution ...", "†Work done at ...") begins a
# sentence, whatever the line before it ends with: a column often ends mid-sentence above the page's footnotes
# ("... across various domains, includ" + "*Equal contribution 1Pennsylvania State University ...").
_OPENS_SENTENCE = re.compile(r"\n(?=[*†‡§¶]\s?[A-Z])")
# How a footnote's line begins: a marker right before a capital ("*Equal contribution", "† Corresponding author");
# "* Accuracy" with a space is more likely a bullet.
FOOTNOTE = re.compile(r"(?:\*|[†‡§¶]\s?)(?=[A-Z])")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentence (start, end) offsets in ``text``; a line that opens a footnote begins a sentence, and long
    table-like runs are cut at line breaks."""
    spans: list[tuple[int, int]] = []
    for sentence in sentence_tokenizer().span_tokenize(text):
        for start, end in _at_openers(text, *sentence):
            if end - start > 600 and "\n" in text[start:end]:
                pos = start
                for m in re.finditer(r"\n", text[start:end]):
                    cut = start + m.start()
                    if cut - pos >= 200:
                        spans.append((pos, cut))
                        pos = cut + 1
                spans.append((pos, end))
            else:
                spans.append((start, end))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def _at_openers(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The span cut before each line in it that opens a footnote (the line break left out)."""
    pieces = []
    for m in _OPENS_SENTENCE.finditer(text, start, end):
        pieces.append((start, m.start()))
        start = m.end()
    pieces.append((start, end))
    return pieces


def approx_tokens(texts: Sequence[str]) -> list[int]:
    """A tokenizer-free estimate (WordPiece splits about 1.4 tokens per word on papers)."""
    return [int(len(t.split()) * 1.4) + 1 for t in texts]


def chunk_paper(
    paper_id: str,
    parsed: ParsedPDF,
    *,
    max_tokens: int = 200,
    overlap: int = 30,
    count_tokens: TokenCounter = approx_tokens,
) -> list[Chunk]:
    """Chunks of at most ``max_tokens`` (a single over-long sentence is split by words)."""
    text = parsed.text
    offsets = parsed.page_offsets()
    chunks: list[Chunk] = []
    for section in parsed.sections:
        body = text[section.char_start : section.char_end]
        if len(body.strip()) < _MIN_SECTION_CHARS:
            continue
        spans = [(s + section.char_start, e + section.char_start) for s, e in sentence_spans(body)]
        spans, sizes = _split_long(text, spans, count_tokens([text[s:e] for s, e in spans]), max_tokens, count_tokens)
        starts = [s for s, _ in spans]
        for start, end in _pack(spans, sizes, max_tokens, overlap):
            page_start = bisect.bisect_right(offsets, start)
            page_end = bisect.bisect_right(offsets, end - 1)
            first = bisect.bisect_left(starts, start)
            inside = tuple((s - start, e - start) for s, e in spans[first:] if e <= end and s < end)
            chunks.append(
                Chunk(
                    paper_id=paper_id,
                    page_start=page_start,
                    page_end=page_end,
                    section=section.title,
                    kind=section.kind,
                    char_start=start,
                    char_end=end,
                    text=text[start:end],
                    sentences=inside,
                )
            )
    return chunks


def _split_long(
    text: str, spans: list[tuple[int, int]], sizes: list[int], max_tokens: int, count_tokens: TokenCounter
) -> tuple[list[tuple[int, int]], list[int]]:
    """Spans and their token counts, with each sentence over max_tokens cut into runs of words that fit."""
    if all(size <= max_tokens for size in sizes):
        return spans, sizes
    out: list[tuple[int, int]] = []
    counted: list[int | None] = []
    for (start, end), size in zip(spans, sizes, strict=True):
        if size <= max_tokens:
            out.append((start, end))
            counted.append(size)
            continue
        words = [(m.start() + start, m.end() + start) for m in re.finditer(r"\S+", text[start:end])]
        step = max(1, int(len(words) * max_tokens / size * 0.9))
        for i in range(0, len(words), step):
            group = words[i : i + step]
            out.append((group[0][0], group[-1][1]))
            counted.append(None)
    pieces = [i for i, size in enumerate(counted) if size is None]
    for i, size in zip(pieces, count_tokens([text[out[i][0] : out[i][1]] for i in pieces]), strict=True):
        counted[i] = size
    return out, [int(size or 0) for size in counted]


def _pack(spans: list[tuple[int, int]], sizes: list[int], max_tokens: int, overlap: int) -> list[tuple[int, int]]:
    """Group consecutive sentences into windows of at most max_tokens, overlapping by whole sentences."""
    windows: list[tuple[int, int]] = []
    i = 0
    while i < len(spans):
        total, j = 0, i
        while j < len(spans) and (j == i or total + sizes[j] <= max_tokens):
            total += sizes[j]
            j += 1
        windows.append((spans[i][0], spans[j - 1][1]))
        if j >= len(spans):
            break
        # Step back over trailing sentences that fit in the overlap budget, always advancing.
        back, k = 0, j
        while k - 1 > i and back + sizes[k - 1] <= overlap:
            back += sizes[k - 1]
            k -= 1
        i = k
    return windows
