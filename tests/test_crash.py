"""Crashes: `kill -9` of the real `footnote ingest` at random points (starting up, downloading, between the
Chroma writes and the SQLite commit, after a paper), the same command again, and then a consistent archive:
every paper exactly once, no duplicate chunk ids, no chunk of an unfinished paper visible, the lexical index
(FTS5) agreeing with Chroma, no half-written download left in the cache. Also two ingests started at once.

test_archive.py checks the write protocol with simulated crash states inside one process; here the crashes
are real SIGKILLs of a separate process.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from index.archive import Archive
from index.retrieve import Query, Retriever
from ingest.chunk import chunk_paper
from ingest.parse import parse_pdf
from ingest.pipeline import ingest
from tests import pdfs
from tests.conftest import make_settings

SCRIPT = Path(sys.executable).with_name("footnote")
LOCAL = ("2505.00212", "2502.13189", "2501.12948", "2504.21798", "2503.24290", "2502.16982", "2504.13914", "2503.20215")
REMOTE = ("2501.17811", "2501.12599")  # downloaded from a slow server, so kills land mid-download
EXTRA = ("2410.18982", "2411.16489", "2503.20783")  # a crashed run of another command leaves one of these pending
KILLS = 20
SEED = 6


# ----------------------------------------------------------------------------------------------- a slow server


class SlowServer:
    """Serves ``/pdf/<id>`` from memory in 20 pieces over about 1.5 s (a slow mirror), on 127.0.0.1."""

    def __init__(self, files: dict[str, bytes], seconds: float = 1.5) -> None:
        self.files = files
        self.hits: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                owner.hits.append(self.path)
                body = owner.files.get(self.path.removeprefix("/pdf/"))
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/pdf")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                step = len(body) // 20 + 1
                try:
                    for i in range(0, len(body), step):
                        self.wfile.write(body[i : i + step])
                        self.wfile.flush()
                        time.sleep(seconds / 20)
                except OSError:  # the client was killed
                    self.close_connection = True

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = "http://{}:{}".format(*self._server.server_address[:2])
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def papers(tmp_path_factory) -> dict[str, Path]:
    """Two-page cuts of real corpus papers (cheap to embed, so the loop spends its time on kills)."""
    folder = tmp_path_factory.mktemp("crash_papers")
    (folder / "inbox").mkdir()
    (folder / "remote").mkdir()
    (folder / "extra").mkdir()
    out = {}
    for paper_id in LOCAL:
        out[paper_id] = pdfs.page_subset(pdfs.PAPERS / f"{paper_id}.pdf", folder / "inbox", [1, 2])
    for paper_id in REMOTE:
        out[paper_id] = pdfs.page_subset(pdfs.PAPERS / f"{paper_id}.pdf", folder / "remote", [1, 2])
    for paper_id in EXTRA:
        out[paper_id] = pdfs.page_subset(pdfs.PAPERS / f"{paper_id}.pdf", folder / "extra", [1, 2, 3, 4])
    return out


@pytest.fixture(scope="module")
def slow_server(papers) -> Iterator[SlowServer]:
    server = SlowServer({pid: papers[pid].read_bytes() for pid in REMOTE})
    yield server
    server.close()


def cli_env(server: SlowServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FOOTNOTE_", "OPENAI_"))}
    env.update(FOOTNOTE_ARXIV_BASE_URL=server.base_url, FOOTNOTE_TIMEOUT_S="20", FOOTNOTE_BACKOFF_S="0.05")
    return env


def spawn(home: Path, sources: list[str], env: dict[str, str], *extra: str) -> subprocess.Popen:
    args = [str(SCRIPT), "--home", str(home), "ingest", *sources, "--json", *extra]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# ----------------------------------------------------------------------------------------------- archive state


def catalog_state(home: Path) -> dict[str, str]:
    """id -> status, after checking what SQLite must hold at any instant, crash or not."""
    path = home / "archive.sqlite"
    if not path.exists():
        return {}
    db = sqlite3.connect(path, timeout=30)
    try:
        status = dict(db.execute("SELECT id, status FROM papers"))
        # rows of pages and chunks exist only for complete papers (written in the commit that completes them)
        for table in ("chunks", "pages"):
            stray = db.execute(
                f"SELECT count(*) FROM {table} t LEFT JOIN papers p ON p.id = t.paper_id "
                "WHERE p.status IS NOT 'complete'"
            ).fetchone()[0]
            assert stray == 0, f"{stray} {table} rows of unfinished papers"
        # the lexical index holds exactly the chunks, and FTS5 agrees with its content table
        assert (
            db.execute("SELECT count(*) FROM chunks_fts").fetchone()[0]
            == db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        )
        db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES('integrity-check')")
        recorded = dict(db.execute("SELECT id, chunks FROM papers WHERE status='complete'"))
        counted = dict(db.execute("SELECT paper_id, count(*) FROM chunks GROUP BY paper_id"))
        assert {k: v for k, v in recorded.items() if v} == counted
        return status
    finally:
        db.close()


def release_chroma() -> None:
    """Forget this process's cached Chroma clients, so the next open reads what the subprocesses wrote."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


def check_unfinished_are_invisible(home: Path, status: dict[str, str], papers: dict[str, Path]) -> int:
    """Vectors of pending papers may sit in Chroma; retrieval must never return them. Returns their count."""
    archive = Archive(make_settings(home))
    try:
        complete = {pid for pid, s in status.items() if s == "complete"}
        for paper_id in complete:
            assert set(archive.store.ids(paper_id)) == {c.id for c in archive.catalog.chunks_of(paper_id)}
        orphans = 0
        for paper_id in (pid for pid, s in status.items() if s == "pending"):
            orphans += len(archive.store.ids(paper_id))
            text = parse_pdf(papers[paper_id]).text[:1500]
            for passage in Retriever(archive).search(Query(text, k=20)):
                assert passage.chunk.paper_id in complete, passage.chunk.id
            assert Retriever(archive).search(Query(text, k=5, paper_ids=[paper_id])) == []
        return orphans
    finally:
        archive.close()
        release_chroma()


def wait_for(proc: subprocess.Popen, ready, limit_s: float = 60.0, every_s: float = 0.005) -> bool:
    """Poll until `ready()` or the process ends; True when ready while it still runs."""
    deadline = time.monotonic() + limit_s
    while proc.poll() is None and time.monotonic() < deadline:
        if ready():
            return True
        time.sleep(every_s)
    return False


def partial_downloads(home: Path) -> list[Path]:
    folder = home / "pdfs"
    return list(folder.glob(".*.part")) if folder.is_dir() else []


def pending_rows(home: Path) -> set[tuple[int, str]]:
    """(rowid, id) of pending papers: a paper redone after a crash is a new row, so it counts as new."""
    path = home / "archive.sqlite"
    if not path.exists():
        return set()
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            return set(db.execute("SELECT rowid, id FROM papers WHERE status='pending'"))
        finally:
            db.close()
    except sqlite3.Error:
        return set()


def pending_ids(home: Path) -> set[str]:
    return {paper_id for _rowid, paper_id in pending_rows(home)}


def complete_count(home: Path) -> int:
    path = home / "archive.sqlite"
    if not path.exists():
        return 0
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            return db.execute("SELECT count(*) FROM papers WHERE status='complete'").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def kill(proc: subprocess.Popen) -> bool:
    """SIGKILL if still running; True when it was killed (not finished)."""
    if proc.poll() is not None:
        proc.communicate()
        return False
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    return True


# ----------------------------------------------------------------------------------------------- the kill loop


def test_kill_9_loop_leaves_a_consistent_archive(papers, slow_server, tmp_path):
    home = tmp_path / "home"
    # Paper by paper in the kill loop: with papers parsed ahead and embedded in groups, a group's papers are stored
    # in one quick burst, so one run could get through most of the 10 papers before its kill point, and the loop
    # would run out of unfinished papers before it has made its 20 kills. Each paper is written by the same
    # protocol either way; the final run below ingests with the default grouping.
    env = {**cli_env(slow_server), "FOOTNOTE_PARSE_AHEAD": "1"}
    sources = [str(papers[LOCAL[0]].parent), *REMOTE]
    rng = random.Random(SEED)
    # Downloads first (the remote PDFs are cached once a run gets past them), then the later stages; each kill
    # waits for its stage, then a random extra delay. A run that ends before its kill point is run again.
    early = ["download"] * 4 + ["startup"] * 4
    late = ["pending"] * 5 + ["after a paper"] * 3 + ["startup"] * 4
    rng.shuffle(early)
    rng.shuffle(late)
    kills: dict[str, int] = {}
    orphan_checks = runs = 0
    started = time.monotonic()
    for point in early + late:
        for _attempt in range(3):
            runs += 1
            before_pending, before_complete = pending_rows(home), complete_count(home)
            proc = spawn(home, sources, env)
            if point == "startup":
                time.sleep(rng.uniform(0.1, 1.5))
            elif point == "download":
                wait_for(proc, lambda: bool(partial_downloads(home)))
                time.sleep(rng.uniform(0.0, 0.5))
            elif point == "pending":  # between the Chroma writes and the SQLite commit of a paper
                # A paper is pending for the few tens of milliseconds of its Chroma writes (the store is open by
                # then: ingest opens it while the first papers are embedded), so this polls as often as it can; a
                # window missed lets a run complete one more paper, and the loop has 10 to spend on 20 kills.
                wait_for(proc, lambda before=before_pending: bool(pending_rows(home) - before), every_s=0.0005)
                time.sleep(rng.uniform(0.0, 0.005))
            else:
                wait_for(proc, lambda before=before_complete: complete_count(home) > before)
                time.sleep(rng.uniform(0.0, 0.3))
            killed = kill(proc)
            status = catalog_state(home)  # SQLite is consistent at every instant
            if "pending" in status.values() and orphan_checks < 2:
                orphan_checks += 1
                check_unfinished_are_invisible(home, status, papers)
            if killed:
                kills[point] = kills.get(point, 0) + 1
                break
    loop_s = time.monotonic() - started
    assert sum(kills.values()) == KILLS, kills
    assert runs <= KILLS + 5, runs

    # A crash of another command leaves a paper pending; the next ingest redoes it though it names other sources.
    extra = None
    for paper_id in EXTRA:
        proc = spawn(home, [str(papers[paper_id])], env)
        caught = wait_for(proc, lambda pid=paper_id: pid in pending_ids(home))
        if kill(proc) and caught and paper_id in pending_ids(home):
            extra = paper_id
            break
    assert extra is not None, "could not catch an ingest between its Chroma write and its commit"

    final = subprocess.run(
        [str(SCRIPT), "--home", str(home), "ingest", *sources, "--json"],
        env=cli_env(slow_server),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert final.returncode == 0, final.stderr
    report = json.loads(final.stdout)
    wanted = set(LOCAL) | set(REMOTE)
    assert report["failed"] == []
    assert set(report["ingested"]) | set(report["skipped"]) == wanted | {extra}
    assert extra in report["ingested"]  # redone from its recorded source
    assert "redoing papers" in final.stderr or extra in report["ingested"]

    # every paper exactly once, each with exactly the chunks its PDF gives, Chroma == SQLite == FTS5
    status = catalog_state(home)
    assert status == {pid: "complete" for pid in wanted | {extra}}
    archive = Archive(make_settings(home))
    try:
        count_tokens = archive.embedder.count_tokens
        chroma_all = archive.store.collection.get(include=[])["ids"]
        assert len(chroma_all) == len(set(chroma_all)) == archive.store.count()
        sqlite_all = [row[0] for row in archive.catalog._db.execute("SELECT id FROM chunks")]
        assert len(sqlite_all) == len(set(sqlite_all))
        assert set(chroma_all) == set(sqlite_all)
        for paper_id in wanted | {extra}:
            expected = {c.id for c in chunk_paper(paper_id, parse_pdf(papers[paper_id]), count_tokens=count_tokens)}
            assert {c.id for c in archive.catalog.chunks_of(paper_id)} == expected, paper_id
            assert set(archive.store.ids(paper_id)) == expected, paper_id
        # nothing half-written in the cache; the downloads are the served bytes
        assert partial_downloads(home) == []
        assert sorted(p.name for p in (home / "pdfs").iterdir()) == sorted(f"{pid}.pdf" for pid in REMOTE)
        for paper_id in REMOTE:
            assert (home / "pdfs" / f"{paper_id}.pdf").read_bytes() == slow_server.files[paper_id]
    finally:
        archive.close()
        release_chroma()

    again = subprocess.run(
        [str(SCRIPT), "--home", str(home), "ingest", *sources, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert again.returncode == 0 and json.loads(again.stdout)["ingested"] == []
    print(f"kill -9 loop: {sum(kills.values())} kills {kills} in {loop_s:.0f}s")


# ----------------------------------------------------------------------------------------------- two at once


def test_two_ingests_at_once_one_refuses_or_waits(papers, slow_server, tmp_path):
    """Three `footnote ingest` of the same sources started together: two refuse at once, one waits."""
    home = tmp_path / "home"
    env = cli_env(slow_server)
    sources = [str(papers[pid]) for pid in LOCAL[:2]] + [REMOTE[0]]  # the download holds the lock >= 1.5 s
    hits_before = slow_server.hits.count(f"/pdf/{REMOTE[0]}")
    procs = [spawn(home, sources, env), spawn(home, sources, env), spawn(home, sources, env, "--wait", "300")]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        results.append((proc.pid, proc.returncode, out, err))
    wanted = sorted([*LOCAL[:2], REMOTE[0]])
    winners = [r for r in results if r[1] == 0 and sorted(json.loads(r[2])["ingested"]) == wanted]
    assert len(winners) == 1, results
    winner = winners[0]
    for pid, code, out, err in results:
        assert "Traceback" not in err
        if pid == winner[0]:
            continue
        if pid == procs[2].pid:  # --wait: waited for the lock, then found everything done
            report = json.loads(out)
            assert code == 0 and report["ingested"] == report["failed"] == [], err
            assert sorted(report["skipped"]) == wanted
        else:  # refused at once, in one clear line naming the holder
            errors = [line for line in err.splitlines() if line.strip()]
            assert code == 1 and len(errors) == 1, err
            assert errors[0].startswith("error: ") and "another footnote process" in errors[0]
            assert f"(pid {winner[0]})" in errors[0] or f"(pid {procs[2].pid})" in errors[0]
    assert sum(1 for r in results if r[1] == 1) >= 1  # the race really happened
    status = catalog_state(home)
    assert status == {pid: "complete" for pid in wanted}
    archive = Archive(make_settings(home))
    try:
        assert archive.store.count() == archive.catalog.chunk_count() == sum(r.chunks for r in archive.papers())
    finally:
        archive.close()
        release_chroma()
    assert slow_server.hits.count(f"/pdf/{REMOTE[0]}") == hits_before + 1  # downloaded once


# ----------------------------------------------------------------------------------------------- leftovers


def test_half_written_downloads_are_removed_by_the_next_ingest(tmp_path):
    """A SIGKILL mid-download leaves `.<name>.<random>.part` in the cache; the next ingest removes it."""
    archive = Archive(make_settings(tmp_path / "home"))
    try:
        cache = archive.pdf_dir
        kept = cache / "2505.00212.pdf"
        kept.write_bytes(b"%PDF-1.5 cached")
        stale = [cache / ".2505.00212.pdf.k3j2h1.part", cache / ".2501.17811v2.pdf.x8y7.part"]
        for path in stale:
            path.write_bytes(b"%PDF-1.5 half")
        report = ingest([], archive)
        assert report.failed == [] and report.ingested == []
        assert sorted(p.name for p in cache.iterdir()) == [kept.name]
        assert kept.read_bytes() == b"%PDF-1.5 cached"
    finally:
        archive.close()
