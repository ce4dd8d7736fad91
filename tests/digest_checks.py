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
    at a column's end ("ac-" ... "curacy"), which PyMuPDF leaves in two. Or two pieces of it in its order, where
    footnote brought up the next column's block to end a word that PyMuPDF's order breaks with a footnote and a
    caption ("includ-" ... "ing coding", 2505.00212 p. 1)."""
    text = "".join(pymupdf_page(pdf_path, page).split()).replace("-", "")
    flat = "".join(quote.split()).replace("-", "")
    if flat in text:
        return True
    for cut in range(3, len(flat) - 2):
        head = text.find(flat[:cut])
        if head >= 0 and text.find(flat[cut:], head + cut) >= 0:
            return True
    return False


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
