"""Hostile and broken PDFs: a seeded fuzz loop over the real corpus, one damaged page inside a good paper,
and a folder of every kind of bad PDF ingested in one run beside good ones.

Each bad kind alone is checked at the parser level in test_parse.py (one-line messages naming the file);
here the question is what a whole run does with them: a clear per-file error or a correct partial result,
never a crash of the run, and nothing of a refused file in the archive.
"""

from __future__ import annotations

import random
import re
import time
import unicodedata
from pathlib import Path

import pymupdf
import pytest

from footnote.errors import PDFError
from footnote.settings import IngestSettings
from index.archive import Archive
from ingest.parse import ParsedPDF, parse_pdf
from ingest.pipeline import ingest
from tests import pdfs
from tests.conftest import make_settings
from tests.pdfs import corpus_ids, parsed

FUZZ_CASES = 30
FUZZ_SEED = 3  # this seed includes files MuPDF repairs mid-parse (page 1 gone afterwards: an IndexError before)
FLIPS = (1, 8, 64, 512)
_JUNK = re.compile("[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff\ue000-\uf8ff\ufffd]")


def flipped(data: bytes, rng: random.Random, flips: int, anywhere: bool) -> bytes:
    """`flips` random bytes overwritten, in the middle 80% of the file (or anywhere, xref and trailer included)."""
    out = bytearray(data)
    lo, hi = (0, len(out)) if anywhere else (len(out) // 10, len(out) * 9 // 10)
    for _ in range(flips):
        out[rng.randrange(lo, hi)] = rng.randrange(256)
    return bytes(out)


def check_parsed(doc: ParsedPDF) -> None:
    """What every successful parse must hold, damaged input or not."""
    assert doc.page_count == len(doc.pages) > 0
    assert all(1 <= p <= doc.page_count for p in doc.skipped_pages)
    text = doc.text
    assert not _JUNK.search(text) and not _JUNK.search(doc.title)
    text.encode("utf-8")
    pos = 0
    for section in doc.sections:  # sections tile the text in order
        assert section.char_start == pos <= section.char_end <= len(text)
        pos = section.char_end
    assert doc.sections and pos == len(text)


def test_fuzzed_corpus_pdfs_give_a_result_or_a_clear_error():
    rng = random.Random(FUZZ_SEED)
    ids = corpus_ids()
    outcomes: dict[str, int] = {"ok": 0, "error": 0}
    kept = total = 0
    for case in range(FUZZ_CASES):
        paper_id = ids[case % len(ids)]
        flips, anywhere = rng.choice(FLIPS), case % 3 == 0
        data = flipped((pdfs.PAPERS / f"{paper_id}.pdf").read_bytes(), rng, flips, anywhere)
        label = f"fuzz-{case}-{paper_id}.pdf"
        try:
            doc = parse_pdf(data, name=label)
        except PDFError as exc:  # the only exception allowed out of the parser
            message = str(exc)
            assert message.startswith(f"{label}: ") and "\n" not in message and len(message) < 300, message
            outcomes["error"] += 1
            continue
        outcomes["ok"] += 1
        check_parsed(doc)
        if flips <= 8 and not anywhere:  # light damage: most pages read exactly as before
            original = parsed(paper_id).pages
            kept += sum(a == b for a, b in zip(doc.pages, original, strict=False))
            total += len(original)
    assert outcomes["ok"] + outcomes["error"] == FUZZ_CASES
    assert outcomes["ok"] >= FUZZ_CASES // 2 and outcomes["error"] >= 1, outcomes  # the fuzz reaches both ways
    assert total and kept / total >= 0.8, (kept, total)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bad_pdfs")


def damaged_page(src: Path, dest: Path, page: int, name: str) -> Path:
    """The same PDF with one page's content stream replaced by bytes that do not inflate."""
    out = dest / name
    with pymupdf.open(src) as doc:
        for xref in doc[page - 1].get_contents():
            doc.update_stream(xref, random.Random(page).randbytes(3000), compress=False)
            doc.xref_set_key(xref, "Filter", "/FlateDecode")
        doc.save(out)
    return out


def scanned_page(src: Path, dest: Path, page: int, name: str) -> Path:
    """The same PDF with one page replaced by a picture of itself (no text layer there)."""
    out = dest / name
    with pymupdf.open(src) as doc:
        old = doc[page - 1]
        pix = old.get_pixmap(dpi=40)
        width, height = old.rect.width, old.rect.height
        doc.delete_page(page - 1)
        new = doc.new_page(page - 1, width=width, height=height)
        new.insert_image(new.rect, pixmap=pix)
        doc.save(out, garbage=3)
    return out


def many_pages(dest: Path, name: str, pages: int, claimed: int | None = None) -> Path:
    """A small text PDF with `pages` page objects (sharing one content stream); the page tree may lie."""
    content = b"BT /F1 12 Tf 72 700 Td (A line of text that repeats on every page of this long document.) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> "
    page += b"/Contents 3 0 R >>"
    kids = b" ".join(b"%d 0 R" % (len(objects) + 1 + i) for i in range(pages))
    objects += [page] * pages
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages if claimed is None else claimed)
    body = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    body += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    body += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    out = dest / name
    out.write_bytes(bytes(body))
    return out


GOOD = "2501.17811"
SRC = pdfs.PAPERS / f"{GOOD}.pdf"


def test_one_damaged_page_never_discards_the_paper(folder, tmp_path):
    cut = pdfs.page_subset(SRC, folder, [1, 2, 3, 4], f"{GOOD}.pdf")
    broken = damaged_page(cut, tmp_path, 2, f"{GOOD}.pdf")
    whole, damaged = parse_pdf(cut), parse_pdf(broken)
    assert damaged.page_count == 4
    assert damaged.pages[1] != whole.pages[1] and len(damaged.pages[1]) < len(whole.pages[1]) // 2
    for n in (0, 2, 3):
        assert damaged.pages[n] == whole.pages[n]

    archive = Archive(make_settings(tmp_path / "home"))
    try:
        report = ingest([str(broken)], archive)
        assert report.ingested == [GOOD] and report.failed == []
        assert archive.paper(GOOD).pages == 4
        for n in (1, 3, 4):
            assert archive.page_text(GOOD, n) == whole.pages[n - 1]
        chunks = archive.catalog.chunks_of(GOOD)
        assert {c.page_start for c in chunks} >= {1, 3, 4}
        assert set(archive.store.ids(GOOD)) == {c.id for c in chunks}
    finally:
        archive.close()


def bad_folder(folder: Path) -> dict[str, tuple[str, str | None]]:
    """file name -> (outcome, reason) for a folder mixing bad PDFs, partial ones and a good one."""
    d = folder / "inbox"
    d.mkdir()
    pdfs.page_subset(SRC, d, [1, 2, 3], f"{GOOD}.pdf")
    src3 = pdfs.page_subset(pdfs.PAPERS / "2502.13189.pdf", folder, [1, 2, 3], "three.pdf")
    scanned_page(src3, d, 3, "partly-scanned.pdf")
    pdfs.odd_metadata_pdf(d, "odd-metadata.pdf")
    pdfs.truncated_copy(SRC, d, "truncated.pdf", 0.6)
    pdfs.encrypted_copy(src3, d, "encrypted.pdf")
    pdfs.zero_page_pdf(d, "zero-pages.pdf")
    pdfs.image_only_pdf(src3, d, "scanned.pdf")
    pdfs.html_named_pdf(d, "error-page.pdf")
    pdfs.empty_file(d, "empty.pdf")
    many_pages(d, "fifty-thousand-pages.pdf", 50_000)
    many_pages(d, "lying-page-count.pdf", 1, claimed=2_000_000_000)
    flipped_bytes = flipped(src3.read_bytes(), random.Random(1), 4096, anywhere=True)
    (d / "shredded.pdf").write_bytes(flipped_bytes)
    return {
        f"{GOOD}.pdf": ("ingested", None),
        "partly-scanned.pdf": ("ingested", None),
        "odd-metadata.pdf": ("ingested", None),
        "truncated.pdf": ("failed", "truncated PDF"),
        "encrypted.pdf": ("failed", "encrypted PDF"),
        "zero-pages.pdf": ("failed", "no pages"),
        "scanned.pdf": ("failed", "no extractable text"),
        "error-page.pdf": ("failed", "not a PDF"),
        "empty.pdf": ("failed", "not a PDF"),
        "fifty-thousand-pages.pdf": ("failed", "50000 pages, over the limit of 300 (ingest.max_pages)"),
        "lying-page-count.pdf": ("failed", "damaged PDF"),
        "shredded.pdf": ("either", None),
    }


def test_a_folder_of_bad_pdfs_is_ingested_in_one_run(folder):
    expected = bad_folder(folder)
    inbox = folder / "inbox"
    archive = Archive(make_settings(folder / "home"))
    try:
        started = time.monotonic()
        report = ingest([str(inbox)], archive)
        took = time.monotonic() - started
        failed = {Path(f["source"]).name: f["error"] for f in report.failed}
        ids = {p.name: archive.catalog.paper(_id_of(p.name)) for p in inbox.iterdir()}
        for name, (outcome, reason) in expected.items():
            if outcome == "either":
                assert (name in failed) != (ids[name] is not None), name
                continue
            if outcome == "failed":
                assert name in failed, (name, report)
                error = failed[name]
                assert reason in error and str(inbox / name) in error and "\n" not in error, error
                assert ids[name] is None  # nothing of a refused file in the archive
            else:
                assert name not in failed, failed.get(name)
                assert ids[name] is not None and ids[name].status == "complete"
        assert len(report.ingested) + len(report.failed) == len(expected)
        assert took < 120
        # the partial ones are correct: the scanned page is empty, the others are the paper's own text
        partly = archive.paper("local-partly-scanned")
        assert partly.pages == 3 and archive.page_text("local-partly-scanned", 3) == ""
        whole = parse_pdf(folder / "three.pdf")
        assert [archive.page_text("local-partly-scanned", n) for n in (1, 2)] == list(whole.pages[:2])
        # odd metadata: the title is clean text, not bytes or control characters
        title = archive.paper("local-odd-metadata").title
        assert not any(unicodedata.category(c) in ("Cc", "Cs", "Co") for c in title), repr(title)
        title.encode("utf-8")
        # Chroma and SQLite agree on everything that was ingested, and only on that
        for record in archive.papers():
            assert set(archive.store.ids(record.id)) == {c.id for c in archive.catalog.chunks_of(record.id)}
        assert archive.store.count() == archive.catalog.chunk_count()
    finally:
        archive.close()


def _id_of(name: str) -> str:
    stem = name.removesuffix(".pdf")
    return stem if re.fullmatch(r"\d{4}\.\d{4,5}", stem) else f"local-{stem}"


def test_page_cap_is_a_setting_with_a_clear_message(folder, tmp_path):
    cut = pdfs.page_subset(SRC, tmp_path, [1, 2, 3], f"{GOOD}.pdf")
    archive = Archive(make_settings(tmp_path / "home", ingest=IngestSettings(max_pages=2)))
    try:
        report = ingest([str(cut)], archive)
    finally:
        archive.close()
    assert report.ingested == []
    [failure] = report.failed
    assert failure["error"] == f"{cut}: 3 pages, over the limit of 2 (ingest.max_pages)"


def test_fuzzed_cuts_never_stop_a_run(tmp_path):
    """Damaged files through the whole pipeline (parse, chunk, embed, store): each is ingested or reported."""
    rng = random.Random(FUZZ_SEED + 1)
    names = []
    for n, paper_id in enumerate(("2505.00212", "2502.13189", "2501.12948", "2503.24290", "2504.21798")):
        cut = pdfs.page_subset(pdfs.PAPERS / f"{paper_id}.pdf", tmp_path, [1, 2], f"cut-{n}.pdf")
        name = f"fuzzed-{n}.pdf"
        (tmp_path / "inbox").mkdir(exist_ok=True)
        (tmp_path / "inbox" / name).write_bytes(flipped(cut.read_bytes(), rng, rng.choice((8, 64)), n % 2 == 0))
        names.append(name)
    archive = Archive(make_settings(tmp_path / "home"))
    try:
        report = ingest([str(tmp_path / "inbox")], archive)
        done = sorted(report.ingested + [Path(f["source"]).name.removesuffix(".pdf") for f in report.failed])
        assert len(done) == len(names)
        for failure in report.failed:
            assert "\n" not in failure["error"] and failure["source"] in failure["error"]
        assert archive.catalog.pending_ids() == []
        assert archive.store.count() == archive.catalog.chunk_count()
    finally:
        archive.close()
