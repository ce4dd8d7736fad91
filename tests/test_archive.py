"""index.archive with real Chroma, SQLite and the bundled embedder: idempotent ingest, new versions,
Chroma/SQLite agreement, crash leftovers (pending papers) and the write lock."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from footnote.errors import ArchiveLockedError
from footnote.types import Paper
from index.archive import Archive
from index.retrieve import Query, Retriever
from ingest.chunk import chunk_paper
from ingest.parse import parse_pdf
from ingest.pipeline import ingest
from tests import pdfs
from tests.conftest import SMALL_SET, make_settings

A = "2505.00212"  # the paper that gets a new version
B = "2501.17811"  # the paper a 'crash' leaves pending


@pytest.fixture(scope="module")
def cut(tmp_path_factory) -> dict[str, Path]:
    """Four-page cuts of two real papers (cheap to embed), and A's 'v2': the same cut minus its last page."""
    d = tmp_path_factory.mktemp("cut")
    (d / "v2").mkdir()
    v1 = pdfs.page_subset(pdfs.PAPERS / f"{A}.pdf", d, [1, 2, 3, 4])
    return {
        "A": v1,
        "A_v2": pdfs.without_last_page(v1, d / "v2", f"{A}v2.pdf"),
        "B": pdfs.page_subset(pdfs.PAPERS / f"{B}.pdf", d, [1, 2, 3, 4]),
    }


@pytest.fixture
def archive(tmp_path):
    archive = Archive(make_settings(tmp_path / "home"))
    yield archive
    archive.close()


def sqlite_ids(archive: Archive, paper_id: str | None = None) -> set[str]:
    if paper_id:
        return {c.id for c in archive.catalog.chunks_of(paper_id)}
    return {row[0] for row in archive.catalog._db.execute("SELECT id FROM chunks")}


def chroma_ids(archive: Archive, paper_id: str | None = None) -> set[str]:
    return set(archive.store.ids(paper_id))


def fts_rows(archive: Archive) -> int:
    return archive.catalog._db.execute("SELECT count(*) FROM chunks_fts").fetchone()[0]


def names_rows(archive: Archive, title: str) -> list[int]:
    """The rowids names_fts matches for a paper's title phrase (a stale or doubled row shows up here)."""
    phrase = '"' + " ".join(re.findall(r"[^\W_]+", title.lower())) + '"'
    rows = archive.catalog._db.execute("SELECT rowid FROM names_fts WHERE names_fts MATCH ?", [phrase])
    return sorted(r[0] for r in rows)


def front_rows(archive: Archive, paper_id: str) -> list[int]:
    """The rowids of the paper's title-page and abstract chunks that hold its whole title."""
    title = " ".join(re.findall(r"[^\W_]+", archive.paper(paper_id).title.lower()))
    rows = archive.catalog._db.execute(
        "SELECT n, text FROM chunks WHERE paper_id = ? AND kind IN ('front', 'abstract')", [paper_id]
    )
    return sorted(n for n, text in rows if title in " ".join(re.findall(r"[^\W_]+", text.lower())))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- idempotence and versions


def test_ingesting_the_same_pdf_twice_adds_nothing(archive, cut, tmp_path):
    first = ingest([str(cut["A"])], archive)
    assert first.ingested == [A] and first.failed == []
    record = archive.paper(A)
    ids = sqlite_ids(archive)
    assert ids and chroma_ids(archive) == ids
    counts = (archive.store.count(), archive.catalog.chunk_count(), fts_rows(archive))

    again = ingest([str(cut["A"])], archive)
    assert again.ingested == [] and again.skipped == [A] and again.failed == []
    # the same bytes under another path are the same paper too
    copy = tmp_path / "elsewhere" / f"{A}.pdf"
    copy.parent.mkdir()
    copy.write_bytes(cut["A"].read_bytes())
    third = ingest([str(copy)], archive)
    assert third.skipped == [A]

    assert (archive.store.count(), archive.catalog.chunk_count(), fts_rows(archive)) == counts
    assert sqlite_ids(archive) == ids == chroma_ids(archive)
    assert archive.paper(A) == record  # not even ingested_at moved


def test_new_version_replaces_every_old_chunk(archive, cut):
    ingest([str(cut["A"])], archive)
    old_ids = sqlite_ids(archive, A)
    assert archive.paper(A).pages == 4
    assert archive.page_text(A, 4)
    assert any(c.page_end == 4 for c in archive.catalog.chunks_of(A))

    report = ingest([str(cut["A_v2"])], archive)
    assert report.ingested == [A] and report.failed == []

    record = archive.paper(A)
    assert (record.version, record.pages, record.sha256) == (2, 3, sha(cut["A_v2"]))
    expected = {c.id for c in chunk_paper(A, parse_pdf(cut["A_v2"]), count_tokens=archive.embedder.count_tokens)}
    assert sqlite_ids(archive, A) == expected == chroma_ids(archive, A)
    assert archive.store.count() == archive.catalog.chunk_count() == fts_rows(archive) == record.chunks
    gone = old_ids - expected
    assert gone, "v2 lost a page, so some v1 chunks must differ"
    assert not gone & chroma_ids(archive) and not gone & sqlite_ids(archive)
    assert archive.page_text(A, 4) is None
    assert all(c.page_end <= 3 for c in archive.catalog.chunks_of(A))
    metas = archive.store.collection.get(where={"paper_id": A}, include=["metadatas"])["metadatas"]
    assert metas and all(m["page_end"] <= 3 for m in metas)
    # nothing of the lost page is found lexically any more
    page4 = parse_pdf(cut["A"]).pages[3]
    phrase = next(line for line in page4.split("\n") if len(line) > 60 and line not in parse_pdf(cut["A_v2"]).text)
    hits = archive.catalog.chunks([cid for cid, _ in archive.catalog.lexical_search(phrase, 50)])
    assert not any(phrase in c.text for c in hits.values())
    # the index of title pages and abstracts dropped v1's rows too
    assert names_rows(archive, record.title) == front_rows(archive, A)


def test_chroma_and_sqlite_hold_the_same_chunks(small_home):
    archive = Archive(make_settings(small_home))
    try:
        records = archive.papers()
        assert sorted(r.id for r in records) == sorted(SMALL_SET)
        assert archive.catalog.pending_ids() == []
        for record in records:
            chunks = {c.id: c for c in archive.catalog.chunks_of(record.id)}
            assert len(chunks) == record.chunks > 0
            assert chroma_ids(archive, record.id) == set(chunks)
            got = archive.store.collection.get(ids=list(chunks), include=["documents", "metadatas"])
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                c = chunks[cid]
                assert doc is None  # the texts live in the catalog only (index.chroma_documents is off)
                assert (meta["paper_id"], meta["page_start"], meta["page_end"], meta["kind"]) == (
                    c.paper_id,
                    c.page_start,
                    c.page_end,
                    c.kind,
                )
            pages = archive.catalog._db.execute("SELECT count(*) FROM pages WHERE paper_id=?", (record.id,))
            assert pages.fetchone()[0] == record.pages == pdfs.sources_md()[record.id][1]
        assert archive.store.count() == archive.catalog.chunk_count() == fts_rows(archive)
    finally:
        archive.close()


def test_chroma_documents_setting_keeps_texts_in_chroma_too(tmp_path, cut):
    archive = Archive(make_settings(tmp_path, index={"chroma_documents": True}))
    try:
        report = ingest([str(cut["B"])], archive)
        assert report.ingested == [B]
        chunks = {c.id: c.text for c in archive.catalog.chunks_of(B)}
        got = archive.store.collection.get(ids=list(chunks), include=["documents"])
        assert dict(zip(got["ids"], got["documents"], strict=True)) == chunks
    finally:
        archive.close()


# ---------------------------------------------------------------- crash leftovers


def leave_pending(archive: Archive, pdf: Path, paper_id: str) -> list[str]:
    """What a crash between the Chroma upsert and the SQLite commit leaves: returns the orphan ids."""
    doc = parse_pdf(pdf)
    chunks = chunk_paper(paper_id, doc, count_tokens=archive.embedder.count_tokens)
    vectors = archive.embedder.embed([c.text for c in chunks])
    paper = Paper(paper_id, None, doc.title, (), "", pdf.as_uri(), sha(pdf), doc.page_count)
    archive.catalog.begin_paper(paper, None)
    archive.store.upsert(chunks, vectors)
    return [c.id for c in chunks]


def test_pending_paper_is_invisible_then_repaired(archive, cut):
    ingest([str(cut["A"])], archive)
    orphans = leave_pending(archive, cut["B"], B)
    assert archive.catalog.paper(B).status == "pending"
    assert chroma_ids(archive, B) == set(orphans)

    assert [r.id for r in archive.papers()] == [A]
    assert archive.paper(B) is None
    assert sqlite_ids(archive, B) == set()
    # the vectors are there and would win the dense side...
    text = parse_pdf(cut["B"]).text[:2000]
    vector = archive.embedder.embed([text])[0]
    assert archive.store.query(vector, 5)[0][0] in orphans
    # ...but retrieval never returns them
    passages = Retriever(archive).search(Query(text, k=10))
    assert passages and all(p.chunk.paper_id == A for p in passages)
    assert Retriever(archive).search(Query(text, k=10, paper_ids=[B])) == []

    assert archive.repair() == [B]
    assert chroma_ids(archive, B) == set()
    assert archive.catalog.paper(B) is None
    assert archive.store.count() == archive.catalog.chunk_count()
    assert archive.repair() == []


def test_next_ingest_redoes_what_a_crash_left(archive, cut):
    ingest([str(cut["A"])], archive)
    orphans = leave_pending(archive, cut["B"], B)
    # A is current: nothing to embed for it, but the unfinished B is redone from its recorded source
    report = ingest([str(cut["A"])], archive)
    assert report.skipped == [A] and report.ingested == [B] and report.failed == []
    assert report.notes == [f"redoing papers a crashed ingest left unfinished: {B}"]  # the CLI prints it
    assert archive.catalog.pending_ids() == []
    assert sqlite_ids(archive, B) == chroma_ids(archive, B) == set(orphans)
    assert archive.store.count() == archive.catalog.chunk_count()
    # asking for it again adds nothing
    report = ingest([str(cut["B"])], archive)
    assert report.skipped == [B]


def test_crash_while_replacing_a_paper_hides_it_until_redone(archive, cut):
    ingest([str(cut["A"])], archive)
    leave_pending(archive, cut["A_v2"], A)  # the new version's vectors are in, its commit is not
    assert archive.paper(A) is None
    assert Retriever(archive).search(Query("automated failure attribution", k=5)) == []
    report = ingest([str(cut["A_v2"])], archive)
    assert report.ingested == [A]
    record = archive.paper(A)
    assert (record.pages, record.sha256) == (3, sha(cut["A_v2"]))
    assert sqlite_ids(archive, A) == chroma_ids(archive, A)
    assert archive.store.count() == archive.catalog.chunk_count()


# ---------------------------------------------------------------- the write lock


def test_second_write_lock_is_refused_with_a_clear_message(tmp_path):
    home = tmp_path / "home"
    first, second = Archive(make_settings(home)), Archive(make_settings(home))
    try:
        with first.write_lock():
            with pytest.raises(ArchiveLockedError) as info, second.write_lock():
                pass
            message = str(info.value)
            assert str(home) in message
            assert "another footnote process" in message and f"pid {os.getpid()}" in message
            assert "\n" not in message
            start = time.monotonic()
            with pytest.raises(ArchiveLockedError), second.write_lock(wait_s=0.6):
                pass
            assert time.monotonic() - start >= 0.5
        with second.write_lock():  # released on exit
            assert (home / "ingest.lock").read_text() == str(os.getpid())
        assert (home / "ingest.lock").read_text() == ""
    finally:
        first.close()
        second.close()


HOLDER = textwrap.dedent(
    """
    import sys, time
    from footnote.settings import Settings
    from index.archive import Archive
    archive = Archive(Settings(home=sys.argv[1]))
    with archive.write_lock():
        print("locked", flush=True)
        time.sleep(float(sys.argv[2]))
    """
)


def hold_lock(home: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(home), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_ingest_is_refused_while_another_process_writes(archive, cut):
    proc = hold_lock(archive.home, 60)
    try:
        with pytest.raises(ArchiveLockedError, match=f"pid {proc.pid}"):
            ingest([str(cut["A"])], archive)
        assert archive.papers() == []
        # a short wait is not enough either
        with pytest.raises(ArchiveLockedError):
            ingest([str(cut["A"])], archive, lock_wait_s=0.3)
    finally:
        proc.send_signal(signal.SIGKILL)  # a crashed holder: the kernel drops its lock
        proc.wait()
    report = ingest([str(cut["A"])], archive)
    assert report.ingested == [A]


def test_ingest_waits_for_a_holder_that_finishes(archive, cut):
    proc = hold_lock(archive.home, 1.0)
    try:
        report = ingest([str(cut["B"])], archive, lock_wait_s=30)
    finally:
        proc.wait()
    assert report.ingested == [B]


def test_a_query_opens_the_store_while_the_model_loads(small_home):
    archive = Archive(make_settings(small_home))
    try:
        archive.open_for_queries()
        assert "store" in archive.__dict__ and archive.embedder._loaded
        assert Retriever(archive).search(Query("mixture of experts", k=3))
    finally:
        archive.close()


def test_the_model_thread_embeds_the_query_while_the_store_opens(small_home):
    archive = Archive(make_settings(small_home))
    try:
        archive.open_for_queries("mixture of experts")
        assert set(archive._prefetched) == {"mixture of experts"}  # embedded on the model thread
        fresh = archive.embedder.embed(["mixture of experts"])[0]
        handed = archive.query_vector("mixture of experts")
        assert handed.shape == fresh.shape and float(handed @ fresh) > 0.9999
        assert archive._prefetched == {}  # handed over once; the next query of it is embedded again
        assert float(archive.query_vector("mixture of experts") @ fresh) > 0.9999
        assert Retriever(archive).search(Query("mixture of experts", k=3))
    finally:
        archive.close()


def test_a_model_that_fails_to_load_in_the_background_fails_at_the_first_embed(small_home):
    class Unloadable:
        name = "bundled:all-MiniLM-L6-v2#openvino"
        loads = 0

        def prepare(self):
            pass

        def load(self):
            self.loads += 1
            raise RuntimeError("the compiled model is unreadable")

        def embed(self, texts):
            self.load()

    embedder = Unloadable()
    archive = Archive(make_settings(small_home), embedder=embedder)
    try:
        archive.open_for_queries("mixture of experts")  # the store opened; the load failed quietly on the other thread
        assert embedder.loads == 1 and "store" in archive.__dict__
        with pytest.raises(RuntimeError, match="unreadable"):
            Retriever(archive).search(Query("mixture of experts", k=3))
    finally:
        archive.close()


def test_a_refusal_names_a_holder_that_writes_its_pid_late(tmp_path):
    """The holder writes its pid just after taking the lock: a refusal in between waits for it to appear."""
    import fcntl
    import threading

    archive = Archive(make_settings(tmp_path / "home"))
    lock = open(tmp_path / "home" / "ingest.lock", "a+")  # noqa: SIM115 (held across the thread below)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)

        def write_pid_late():
            time.sleep(0.1)
            lock.write("424242")
            lock.flush()

        writer = threading.Thread(target=write_pid_late)
        writer.start()
        with pytest.raises(ArchiveLockedError, match=r"\(pid 424242\)"), archive.write_lock():
            pass
        writer.join()
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
        archive.close()


def test_a_home_from_before_names_fts_gets_it_on_open(small_home, tmp_path):
    """index.route asks names_fts which papers a name names; a home made before it is indexed when opened."""
    import shutil
    import sqlite3

    home = tmp_path / "old_home"
    shutil.copytree(small_home, home)
    db = sqlite3.connect(home / "archive.sqlite")
    db.execute("DROP TABLE names_fts")
    db.execute("DELETE FROM meta WHERE key = 'names_fts'")
    db.commit()
    db.close()
    archive = Archive(make_settings(home))
    try:
        first = archive.catalog._db.execute("SELECT paper_id FROM chunks WHERE kind = 'front' LIMIT 1").fetchone()[0]
        title = archive.paper(first).title
        assert first in archive.catalog.papers_naming(title, 5)
        assert names_rows(archive, title) == front_rows(archive, first)
        Archive(make_settings(home)).close()  # opened again: indexed once, not twice
        assert names_rows(archive, title) == front_rows(archive, first)
    finally:
        archive.close()


def test_a_catalog_from_before_warnings_and_text_versions_gains_them(tmp_path):
    """A home made before papers recorded their warning and text version opens, and its papers read '' for both
    (so `ingest` reads them again: tests/test_cli_ingest.py)."""
    import sqlite3

    from index.catalog import SCHEMA, Catalog

    old = SCHEMA.replace(
        "    ingested_at TEXT,\n    warning TEXT NOT NULL DEFAULT '',\n    parser TEXT NOT NULL DEFAULT ''\n",
        "    ingested_at TEXT\n",
    )
    assert old != SCHEMA
    path = tmp_path / "archive.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(old)
        db.execute("INSERT INTO papers (id, title, sha256, status) VALUES ('2502.13189', 'MoBA', 'abc', 'complete')")
    catalog = Catalog(path)
    try:
        (record,) = catalog.papers()
        assert (record.id, record.warning, record.parser) == ("2502.13189", "", "")
        assert record.to_json()["warning"] is None and record.to_json()["text_version"] is None
    finally:
        catalog.close()
