"""Server mode: FOOTNOTE_CHROMA_URL points the store at a real `chroma run` on 127.0.0.1.

Real papers are ingested through the CLI with only the environment variable set, then `ask` and `cite`
answer from the server: the home holds no Chroma folder, and the server holds exactly the catalog's chunks.
The lexical index (FTS5) stays in the home's catalog, as the README says.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from footnote.errors import ArchiveError
from footnote.settings import Settings
from index.archive import Archive
from index.store import ChromaStore, parse_chroma_url
from qa.ask import ask
from qa.cite import cite
from tests.conftest import PAPERS

MOBA, SPEC = "2502.13189", "2505.00212"  # 15 and 18 pages: a quick ingest with checked cite cases
CHROMA = Path(sys.executable).parent / "chroma"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_cli(home: Path, url: str, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {**os.environ, "FOOTNOTE_CHROMA_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "footnote.cli", "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


@contextlib.contextmanager
def running_chroma(data: Path) -> Iterator[str]:
    """A real Chroma server (`chroma run`) on a free port of 127.0.0.1, up until the block ends; its URL."""
    if not CHROMA.exists():
        pytest.fail(f"the chroma console script is missing: {CHROMA}")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data.mkdir(parents=True, exist_ok=True)
    log_path = data / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [str(CHROMA), "run", "--path", str(data / "db"), "--port", str(port), "--host", "127.0.0.1"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"chroma run exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
                try:
                    if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"chroma run did not answer its heartbeat within 30 s: {url}")
                time.sleep(0.1)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    """One server for the module: {"url", "data" (its --path)}."""
    data = tmp_path_factory.mktemp("chroma_server")
    with running_chroma(data) as url:
        yield {"url": url, "data": data / "db"}


@pytest.fixture(scope="module")
def server_home(chroma_server, tmp_path_factory) -> Path:
    """Two papers ingested through the CLI, with FOOTNOTE_CHROMA_URL the only hint of the server."""
    home = tmp_path_factory.mktemp("server_home")
    proc = run_cli(
        home, chroma_server["url"], "ingest", str(PAPERS / f"{MOBA}.pdf"), str(PAPERS / f"{SPEC}.pdf"), "--json"
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(json.loads(proc.stdout)["ingested"]) == sorted([MOBA, SPEC])
    return home


@pytest.fixture
def server_archive(server_home, chroma_server, monkeypatch):
    monkeypatch.setenv("FOOTNOTE_CHROMA_URL", chroma_server["url"])
    settings = Settings(home=server_home)  # reads FOOTNOTE_CHROMA_URL exactly as named
    assert settings.index.chroma_url == chroma_server["url"]
    archive = Archive(settings)
    yield archive
    archive.close()


def test_vectors_live_on_the_server_only(server_home, chroma_server, server_archive):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    assert not (server_home / "chroma").exists()
    assert sorted(p.name for p in server_home.iterdir() if "chroma" in p.name.lower()) == []
    assert (server_home / "archive.sqlite").exists()  # catalog and lexical index stay in the home
    host, port, ssl = parse_chroma_url(chroma_server["url"])
    client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=ChromaSettings(anonymized_telemetry=False))
    collection = client.get_collection(server_archive.settings.index.collection)
    chunks = server_archive.catalog.chunk_count()
    assert chunks > 100
    assert collection.count() == chunks == sum(r.chunks for r in server_archive.papers())
    assert set(collection.get(where={"paper_id": MOBA}, include=[])["ids"]) == {
        c.id for c in server_archive.catalog.chunks_of(MOBA)
    }
    assert server_archive.store.url == chroma_server["url"]
    assert (chroma_server["data"] / "chroma.sqlite3").exists()


def test_cite_and_ask_answer_from_the_server(server_archive):
    matches = cite(server_archive, "19.13%", k=5)
    assert (matches[0].paper_id, matches[0].page) == (SPEC, 5), [(m.paper_id, m.page) for m in matches]
    matches = cite(server_archive, "speedup ratio of up to 6.5x when prefilling 1M tokens", k=5)
    assert (matches[0].paper_id, matches[0].page) == (MOBA, 10)

    answer = ask(server_archive, "What prefill speedup does MoBA reach at 1M tokens?")
    assert not answer.abstained, answer.to_json()
    cited = {c.paper_id for s in answer.statements for c in s.citations}
    assert cited == {MOBA}, answer.to_json()
    assert all(p.chunk.paper_id in (MOBA, SPEC) for p in answer.passages)


def test_cli_cite_and_ask_from_the_server(server_home, chroma_server):
    proc = run_cli(server_home, chroma_server["url"], "cite", "6.5×", "-k", "3", "--json")
    assert proc.returncode == 0, proc.stderr
    first = json.loads(proc.stdout)["matches"][0]
    assert (first["paper_id"], first["page"]) == (MOBA, 10)
    assert not (server_home / "chroma").exists()


def test_without_the_server_the_home_has_no_vectors(server_home, tmp_path):
    """The same home read without FOOTNOTE_CHROMA_URL opens an empty local store: the vectors were never local."""
    copy = tmp_path / "copy"
    shutil.copytree(server_home, copy)
    archive = Archive(Settings(home=copy))
    try:
        assert archive.catalog.chunk_count() > 0
        assert archive.store.count() == 0
    finally:
        archive.close()


def test_unreachable_server_is_one_clear_line(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ArchiveError, match=f"Chroma server at {url} .*is unreachable"):
        ChromaStore(tmp_path, url=url)
    assert not (tmp_path / "chroma").exists()
    Archive(Settings(home=tmp_path / "home")).close()  # a home with its catalog: only the server is missing
    proc = run_cli(tmp_path / "home", url, "cite", "6.5×", timeout=60)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and url in errors[0] and "unreachable" in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_server_lost_mid_session_is_one_clear_line(tmp_path):
    with running_chroma(tmp_path / "server") as url:
        store = ChromaStore(tmp_path / "home", url=url)
        assert store.count() == 0
    with pytest.raises(ArchiveError, match=f"Chroma server at {url} .*is unreachable"):
        store.count()
    with pytest.raises(ArchiveError, match=f"Chroma server at {url} .*is unreachable"):
        store.query(np.ones(384, dtype=np.float32), 5, exclude_kinds=["references"])


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8123", ("127.0.0.1", 8123, False)),
        ("http://chroma.internal", ("chroma.internal", 8000, False)),
        ("https://chroma.example.org", ("chroma.example.org", 443, True)),
        ("https://chroma.example.org:9443/", ("chroma.example.org", 9443, True)),
        ("http://[::1]:8001", ("::1", 8001, False)),
    ],
)
def test_url_parsing(url, expected):
    assert parse_chroma_url(url) == expected


@pytest.mark.parametrize("url", ["127.0.0.1:8000", "ftp://host:21", "http://", "http://h:99999", "http://h:1/api"])
def test_bad_urls_are_refused_naming_the_url(url):
    with pytest.raises(ArchiveError, match="FOOTNOTE_CHROMA_URL"):
        parse_chroma_url(url)


# ---------------------------------------------------------------- the store's filters, embedded


@pytest.fixture(scope="module")
def synthetic_store(tmp_path_factory):
    """An embedded store of 600 random unit vectors over 6 papers and 3 kinds (no model needed)."""
    from footnote.types import Chunk

    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(600, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    kinds = ["method", "results", "references"]
    chunks = [
        Chunk(f"p{i % 6}", 1, 1, "s", kinds[(i // 6) % 3], i * 10, i * 10 + 5, f"text {i}", id=f"c{i:04d}")
        for i in range(600)
    ]
    store = ChromaStore(tmp_path_factory.mktemp("synthetic"), "synthetic_chunks")
    store.upsert(chunks, vectors)
    return store, chunks, vectors


def brute_force(chunks, vectors, query, k, keep):
    sims = vectors @ query
    order = [i for i in np.argsort(-sims) if keep(chunks[i])]
    return [chunks[i].id for i in order[:k]]


@pytest.mark.parametrize("seed", range(5))
def test_store_filters_match_brute_force(synthetic_store, seed):
    store, chunks, vectors = synthetic_store
    query = vectors[seed * 37] + 0.1
    query /= np.linalg.norm(query)

    def ids(hits):
        return [cid for cid, _ in hits]

    no_refs = brute_force(chunks, vectors, query, 10, lambda c: c.kind != "references")
    got = store.query(query, 10, exclude_kinds=["references"])
    assert len(set(ids(got)) & set(no_refs)) >= 8  # HNSW is approximate; the filter is not
    assert all(cid not in {c.id for c in chunks if c.kind == "references"} for cid in ids(got))

    one_paper = brute_force(chunks, vectors, query, 10, lambda c: c.paper_id == "p2" and c.kind != "references")
    assert ids(store.query(query, 10, paper_ids=["p2"], exclude_kinds=["references"])) == one_paper  # exact
    p2_ids = [c.id for c in chunks if c.paper_id == "p2"]
    assert ids(store.query(query, 10, paper_ids=["p2"], exclude_kinds=["references"], chunk_ids=p2_ids)) == one_paper

    methods = brute_force(chunks, vectors, query, 5, lambda c: c.paper_id in ("p1", "p4") and c.kind == "method")
    assert ids(store.query(query, 5, paper_ids=["p1", "p4"], include_kinds=["method"])) == methods

    scores = dict(store.query(query, 600, paper_ids=["p3"]))
    for cid, score in scores.items():
        i = int(cid[1:])
        assert score == pytest.approx(float(vectors[i] @ query), abs=1e-4)
    assert store.query(query, 5, paper_ids=[]) == []
    assert store.query(query, 5, paper_ids=["nobody"]) == []
