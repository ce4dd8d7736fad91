"""Bad and cut-down PDFs, made at test time in temporary folders (nothing is stored in the repo),
and cached readings of the real corpus shared by the parse and chunk tests.

Every maker writes one file under ``dest`` (a folder) and returns its path. The good ones are
derived from the real corpus PDFs with PyMuPDF, so they keep a real text layer.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import pymupdf

from tests.conftest import CORPUS, PAPERS

BODY_LINE = "Line {k} of the body text, long enough that the page counts as a text page for the parser."


def page_subset(src: Path, dest: Path, pages: Sequence[int], name: str | None = None) -> Path:
    """A real PDF cut down to ``pages`` (1-based), e.g. a 3-page paper for a cheap ingest."""
    out = dest / (name or src.name)
    with pymupdf.open(src) as doc:
        doc.select([p - 1 for p in pages])
        doc.save(out, garbage=3, deflate=True)
    return out


def without_last_page(src: Path, dest: Path, name: str) -> Path:
    """The same paper with its last page deleted: a 'new version' with different bytes."""
    with pymupdf.open(src) as doc:
        count = doc.page_count
    return page_subset(src, dest, range(1, count), name)


def truncated_copy(src: Path, dest: Path, name: str = "truncated.pdf", fraction: float = 0.5) -> Path:
    """The first ``fraction`` of a real PDF's bytes, as an interrupted download leaves it."""
    data = src.read_bytes()
    out = dest / name
    out.write_bytes(data[: int(len(data) * fraction)])
    return out


def repaired_copy(src: Path, dest: Path, name: str = "repaired.pdf", fraction: float = 0.5) -> Path:
    """The first ``fraction`` of a real PDF's bytes with an end-of-file marker after them: the file opens (MuPDF
    rebuilds its cross-references), and the pages whose objects were cut off have no text."""
    data = src.read_bytes()
    out = dest / name
    out.write_bytes(data[: int(len(data) * fraction)] + b"\n%%EOF\n")
    return out


def html_named_pdf(dest: Path, name: str = "page.pdf") -> Path:
    """An HTML error page saved under a .pdf name (what a captive portal or a 404 gives)."""
    out = dest / name
    out.write_text(
        "<!DOCTYPE html>\n<html><head><title>404</title></head><body>Not Found</body></html>\n", encoding="utf-8"
    )
    return out


def empty_file(dest: Path, name: str = "empty.pdf") -> Path:
    out = dest / name
    out.write_bytes(b"")
    return out


def encrypted_copy(src: Path, dest: Path, name: str = "encrypted.pdf", user_pw: str = "secret") -> Path:
    """A real PDF encrypted with AES-256; with a user password it cannot be opened without it."""
    out = dest / name
    with pymupdf.open(src) as doc:
        doc.save(out, encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="owner-pw", user_pw=user_pw)
    return out


def image_only_pdf(src: Path, dest: Path, name: str = "scanned.pdf", pages: int = 2) -> Path:
    """The first pages of a real PDF rendered to images: what a scan looks like, no text layer."""
    out = dest / name
    with pymupdf.open(src) as doc, pymupdf.open() as scan:
        for pno in range(min(pages, doc.page_count)):
            page = doc[pno]
            pix = page.get_pixmap(dpi=40)
            new = scan.new_page(width=page.rect.width, height=page.rect.height)
            new.insert_image(new.rect, pixmap=pix)
        scan.save(out)
    return out


def zero_page_pdf(dest: Path, name: str = "zero.pdf") -> Path:
    """A syntactically valid PDF whose page tree is empty (PyMuPDF will not save one itself)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [] /Count 0 >>",
    ]
    body = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        body += b"%010d 00000 n \n" % off
    body += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    out = dest / name
    out.write_bytes(bytes(body))
    return out


def odd_metadata_pdf(dest: Path, name: str = "odd-title.pdf") -> Path:
    """A text PDF whose Info /Title holds a lone UTF-16 surrogate, control and private-use characters.

    The body sits in the lower half of the page in one font size, so the parser has no large-type
    title on page 1 and falls back to the metadata title.
    """
    out = dest / name
    with pymupdf.open() as doc:
        page = doc.new_page()
        y = 460.0
        for k in range(12):
            page.insert_text((72, y), BODY_LINE.format(k=k), fontsize=10)
            y += 14
        doc.set_metadata({"title": "placeholder", "author": "placeholder"})
        info = int(doc.xref_get_key(-1, "Info")[1].split()[0])
        # UTF-16BE: "Odd" U+D800(lone) " Title" U+0001 " with" U+E000 " junk" U+DC00 "chars"
        title = "FEFF" + "".join(
            f"{ord(c):04X}" if isinstance(c, str) else f"{c:04X}"
            for c in [*"Odd", 0xD800, *" Title", 0x0001, *" with", 0xE000, *" junk ", 0xDC00, *"chars"]
        )
        doc.xref_set_key(info, "Title", f"<{title}>")
        doc.xref_set_key(info, "Author", "(Bad \\377\\376 bytes \\001)")
        doc.save(out)
    return out


# ---------------------------------------------------------------- the real corpus


def corpus_ids() -> list[str]:
    return sorted(p.stem for p in PAPERS.glob("*.pdf"))


def sources_md() -> dict[str, tuple[str, int]]:
    """arXiv id -> (title, pages) from the corpus's SOURCES.md table."""
    rows: dict[str, tuple[str, int]] = {}
    for line in (CORPUS / "SOURCES.md").read_text(encoding="utf-8").splitlines():
        m = re.match(r"\|\s*(\d{4}\.\d{4,5})\.pdf\s*\|\s*(.*?)\s*\|.*\|\s*(\d+)\s*\|\s*[\d,]+\s*\|$", line)
        if m:
            rows[m.group(1)] = (m.group(2), int(m.group(3)))
    return rows


@functools.cache
def parsed(paper_id: str):
    """ingest.parse's reading of one corpus paper (parsed once per test process)."""
    from ingest.parse import parse_pdf

    return parse_pdf(PAPERS / f"{paper_id}.pdf")


@functools.cache
def pymupdf_pages(paper_id: str) -> tuple[str, ...]:
    """PyMuPDF's own plain text of each page, with the same flags the parser uses."""
    from ingest.parse import TEXT_FLAGS

    with pymupdf.open(PAPERS / f"{paper_id}.pdf") as doc:
        return tuple(page.get_text("text", flags=TEXT_FLAGS) for page in doc)


# What ingest.parse.clean drops: control characters but tab/newline (C0, DEL, C1 but NEL), lone
# surrogates, private-use characters and U+FFFD. Written out here, not imported, so a change to the
# parser's set cannot silently change what the tests compare against.
_JUNK = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ue000-\uf8ff\ufffd\U000f0000-\U0010ffff]")


# What ingest.parse.clean writes for LaTeX's math letters and digits (U+1D400-U+1D7FF, and the Letterlike Symbols
# that NFKC maps to letters: ℎ, ℝ, ℓ, ...): the letters they stand for.
_MATH = re.compile(
    "[\u2102\u210a-\u210e\u2110-\u2113\u2115\u2119-\u211d\u2124\u2128\u212c\u212d\u212f-\u2131\u2133\u2134"
    "\U0001d400-\U0001d7ff]"
)


def norm(text: str) -> str:
    """Math letters as letters, junk characters removed, NFC, whitespace folded to single spaces."""
    text = _MATH.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    return " ".join(_JUNK.sub("", unicodedata.normalize("NFC", text)).split())


def unhyphened(text: str) -> str:
    """``norm`` without hyphens and spaces, for comparing with PyMuPDF's text: TEXT_DEHYPHENATE drops every hyphen
    that ends a line ("SWE-" / "smith" reads "SWEsmith"), where footnote keeps those that join words, and a word
    broken at a column's end stays two in PyMuPDF's text ("ac" ... "curacy"), where footnote joins it
    (ingest.parse._resolve_hyphens). Every other character must match, in order."""
    return "".join(norm(text).split()).replace("-", "")


def found_in_order(parts: Sequence[str], haystack: str) -> bool:
    """Each part occurs in haystack, each after the end of the one before."""
    pos = 0
    for part in parts:
        at = haystack.find(part, pos)
        if at < 0:
            return False
        pos = at + len(part)
    return True
