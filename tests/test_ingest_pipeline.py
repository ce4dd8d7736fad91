"""The ingest pipeline: parsing overlaps embedding, papers parsed by then are embedded together, and each paper
is still stored (or reported failed) on its own, in the order given."""

from __future__ import annotations

import threading

from footnote.settings import IngestSettings, Settings
from index.archive import Archive
from ingest.pipeline import ingest
from tests import pdfs

PAPERS = ["2505.00212", "2504.21801", "2501.12948", "2502.13189", "2501.17811"]


class FailingOnce:
    """The real embedder, except that its second call raises, as a runtime that
    runs out of memory would; records what each call was given."""

    def __init__(self, real) -> None:
        self.real, self.name, self.max_tokens = real, real.name, real.max_tokens
        self.calls: list[int] = []
        self.failed_call: int | None = None
        self.threads: set[str] = set()

    def count_tokens(self, texts):
        self.threads.add(threading.current_thread().name)
        return self.real.count_tokens(texts)

    def embed(self, texts):
        self.calls.append(len(texts))
        if len(self.calls) == 2:
            self.failed_call = len(texts)
            raise RuntimeError("std::bad_alloc")
        return self.real.embed(texts)


def test_a_failed_embedding_fails_its_papers_only_and_the_rest_is_stored_in_order(tmp_path):
    # Four-page cuts of the real papers, two parsed ahead: the same pipeline, a fifth of the embedding, and still
    # several calls (here [1], [2, 3] failing, [4], [5]).
    (tmp_path / "cuts").mkdir()
    cuts = {p: pdfs.page_subset(pdfs.PAPERS / f"{p}.pdf", tmp_path / "cuts", [1, 2, 3, 4]) for p in PAPERS}

    def paper_pdf(paper_id: str):
        return cuts[paper_id]

    settings = Settings(home=tmp_path / "home", ingest=IngestSettings(parse_ahead=2))
    embedder = FailingOnce(Archive(settings).embedder)
    archive = Archive(settings, embedder=embedder)
    report = ingest([str(paper_pdf(p)) for p in PAPERS], archive)

    assert len(embedder.calls) >= 3  # groups of at most two: papers were embedded after the failed call
    failed = {f["source"].rsplit("/", 1)[-1].removesuffix(".pdf"): f["error"] for f in report.failed}
    assert failed and set(failed) | set(report.ingested) == set(PAPERS) and not set(failed) & set(report.ingested)
    assert all("unexpected RuntimeError: std::bad_alloc" in e for e in failed.values())
    # exactly the papers of the failed call failed: their chunks are what it was given
    rerun = Archive(Settings(home=tmp_path / "again"))
    again = ingest([str(paper_pdf(p)) for p in failed], rerun)
    assert sorted(again.ingested) == sorted(failed)
    assert sum(again.chunks.values()) == embedder.failed_call
    # the others are complete, stored in the order given; the failed ones left nothing behind
    assert report.ingested == [p for p in PAPERS if p in report.ingested]
    assert sorted(r.id for r in archive.catalog.papers(complete_only=False)) == sorted(report.ingested)
    assert archive.store.count() == sum(report.chunks.values())
    # chunking ran on the parser thread, not the one that embeds and writes
    assert any(name.startswith("footnote-parse") for name in embedder.threads)


def test_an_arxiv_paper_read_by_an_older_footnote_is_read_again_from_the_cache_only(tmp_path):
    """An arXiv id whose archived text came from another TEXT_VERSION is read again where its PDF is in the
    download cache; it is not fetched again for that alone: offline, the fetch would fail a paper the archive
    holds (a digest of it then said "failed")."""
    import shutil
    import sqlite3

    from ingest.version import TEXT_VERSION

    cut = pdfs.page_subset(pdfs.PAPERS / "2502.13189.pdf", tmp_path, [1, 2, 3])  # named by its arXiv id
    offline = IngestSettings(arxiv_base_url="http://127.0.0.1:9", retries=0)  # nothing listens there
    archive = Archive(Settings(home=tmp_path / "home", ingest=offline))
    assert ingest([str(cut)], archive).ingested == ["2502.13189"]
    with sqlite3.connect(archive.catalog.path) as db:
        db.execute("UPDATE papers SET parser='' WHERE id='2502.13189'")

    report = ingest(["2502.13189"], archive)
    assert (report.skipped, report.failed, report.ingested) == (["2502.13189"], [], [])  # no fetch, no failure

    shutil.copy(cut, archive.pdf_dir / "2502.13189.pdf")
    report = ingest(["2502.13189"], archive)
    assert (report.ingested, report.failed) == (["2502.13189"], [])
    assert "2502.13189: read again (an older footnote read its text)" in report.notes
    assert archive.paper("2502.13189").parser == TEXT_VERSION
    archive.close()


def test_a_paper_read_again_keeps_its_version_and_is_no_copy_of_its_twin(tmp_path):
    """Reading a paper again never puts an older version in place of the one the archive holds (a cached v1 for a
    request of v1 while the archive holds v2), and a local paper whose bytes the archive also holds under an
    arXiv id is read again itself, not skipped as a copy of that id."""
    import shutil
    import sqlite3

    cut = pdfs.page_subset(pdfs.PAPERS / "2502.13189.pdf", tmp_path, [1, 2, 3])
    twin = shutil.copy(cut, tmp_path / "moba.pdf")
    offline = IngestSettings(arxiv_base_url="http://127.0.0.1:9", retries=0)
    archive = Archive(Settings(home=tmp_path / "home", ingest=offline))
    assert ingest([str(twin)], archive).ingested == ["local-moba"]
    assert ingest([str(cut)], archive).ingested == ["2502.13189"]  # an arXiv id of a local file's bytes
    with sqlite3.connect(archive.catalog.path) as db:
        db.execute("UPDATE papers SET parser='', version=CASE id WHEN '2502.13189' THEN 2 ELSE version END")

    shutil.copy(cut, archive.pdf_dir / "2502.13189v1.pdf")  # an older version in the cache
    report = ingest(["2502.13189v1"], archive)
    assert (report.skipped, report.ingested, report.failed) == (["2502.13189"], [], [])
    shutil.copy(cut, archive.pdf_dir / "2502.13189v2.pdf")
    report = ingest(["2502.13189v1"], archive)
    assert (report.ingested, report.failed) == (["2502.13189"], [])
    assert archive.paper("2502.13189").version == 2

    report = ingest([str(twin)], archive)
    assert (report.ingested, report.skipped, report.same_as) == (["local-moba"], [], {})
    assert report.notes == ["local-moba: read again (an older footnote read its text)"]
    archive.close()


def test_a_copy_of_a_paper_an_older_footnote_read_reads_that_paper_again(tmp_path):
    """A PDF under another name with the bytes of a paper the archive holds is that paper: skipped where this
    footnote read it, read again (under its own id, with its own metadata) where an older one did."""
    import shutil
    import sqlite3

    from ingest.version import TEXT_VERSION

    cut = pdfs.page_subset(pdfs.PAPERS / "2502.13189.pdf", tmp_path, [1, 2, 3])
    copy = shutil.copy(cut, tmp_path / "moba.pdf")
    archive = Archive(Settings(home=tmp_path / "home"))
    assert ingest([str(cut)], archive).ingested == ["2502.13189"]
    assert ingest([str(copy)], archive).skipped == ["2502.13189"]
    with sqlite3.connect(archive.catalog.path) as db:
        db.execute("UPDATE papers SET parser='', title='MoBA as listed' WHERE id='2502.13189'")

    report = ingest([str(copy)], archive)
    assert (report.ingested, report.skipped, report.same_as) == (["2502.13189"], [], {"local-moba": "2502.13189"})
    assert report.notes == [
        f"{copy}: the same PDF as 2502.13189, already in the archive",
        "2502.13189: read again (an older footnote read its text)",
    ]
    record = archive.paper("2502.13189")
    assert (record.parser, record.title) == (TEXT_VERSION, "MoBA as listed")  # its metadata kept
    assert [r.id for r in archive.catalog.papers()] == ["2502.13189"]
    archive.close()
