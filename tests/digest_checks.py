"""Assertions every digest must pass, whatever generated it."""

from __future__ import annotations

import pymupdf

from ingest.parse import TEXT_FLAGS, clean
from summarize.sections import SECTION_KEYS
from summarize.verify import extract_numbers, numbers_in

_PAGES: dict[tuple[str, int], str] = {}


def pymupdf_page(pdf_path, page: int) -> str:
    """PyMuPDF's own text of a page, whitespace-normalised, without the characters footnote drops."""
    key = (str(pdf_path), page)
    if key not in _PAGES:
        with pymupdf.open(pdf_path) as doc:
            _PAGES[key] = clean(doc[page - 1].get_text("text", flags=TEXT_FLAGS))
    return _PAGES[key]


def on_page(quote: str, pdf_path, page: int) -> bool:
    """Whether the quote is PyMuPDF's own text of the page, hyphens and spaces aside: PyMuPDF drops every
    line-end hyphen and footnote keeps those that join words ("SWE-" / "smith"), and footnote joins a word broken
    at a column's end ("ac-" ... "curacy"), which PyMuPDF leaves in two. Or, where footnote brought up the next
    column's block to end a word that PyMuPDF's order breaks with a footnote and a caption ("includ-" ... "ing
    coding", 2505.00212 p. 1), two long pieces of it in its order, cut inside one word of the quote."""
    text = _flat(pymupdf_page(pdf_path, page))
    if _flat(quote) in text:
        return True
    words = quote.split()
    for k, word in enumerate(words):
        for m in range(1, len(word)):
            head = _flat(" ".join([*words[:k], word[:m]]))
            tail = _flat(" ".join([word[m:], *words[k + 1 :]]))
            if min(len(head), len(tail)) < _PIECE:
                continue
            at = text.find(head)
            if at >= 0 and text.find(tail, at + len(head)) >= 0:
                return True
    return False


_PIECE = 20  # the least characters of each piece of a quote found in two pieces


def _flat(text: str) -> str:
    return "".join(text.split()).replace("-", "")


def check_digest(doc: dict, pdf_for) -> None:
    """The issue's guarantees: all seven sections, cited statements, verified numbers, verbatim quotes."""
    for paper in doc["papers"]:
        if paper["status"] != "ok":
            assert paper["error"], paper
            continue
        assert [s["key"] for s in paper["sections"]] == list(SECTION_KEYS)
        g = paper["grounding"]
        assert g["numbers_verified"] == g["numbers"], g
        assert g["statements"] == sum(len(s["statements"]) for s in paper["sections"])
        for section in paper["sections"]:
            assert section["stated"] == bool(section["statements"])
            for statement in section["statements"]:
                assert statement["citations"], statement
                if section["key"] == "setup":
                    assert statement["label"] in ("datasets", "masking", "baselines")
                quotes = " ".join(c["quote"] for c in statement["citations"])
                numbers = extract_numbers(statement["text"])
                assert len(numbers_in(numbers, quotes)) == len(numbers), statement
                for c in statement["citations"]:
                    assert c["paper_id"] == paper["id"]
                    assert on_page(c["quote"], pdf_for(c["paper_id"]), c["page"]), (c["page"], c["quote"])
