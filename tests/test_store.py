"""index.store: what ChromaStore does around Chroma itself (the store's queries are tested in test_retrieve).

Each test runs in a fresh interpreter: the `overrides` decorator is only swapped while chromadb is first
imported, and the test process has imported it long before."""

from __future__ import annotations

import pytest

from tests.fresh import fresh_json


def test_override_only_marks_while_the_first_store_opens():
    found = fresh_json(
        """
        import json, overrides
        from index.store import _unchecked_overrides

        class Base:
            def run(self, text: str) -> str:
                return text

        with _unchecked_overrides():
            class Loose(Base):
                @overrides.override
                def run(self, text: str, extra: int) -> str:  # not the base's signature: unchecked here
                    return text

            class Called(Base):
                @overrides.override(check_signature=True)
                def run(self, text: str) -> str:
                    return text
        try:
            class Checked(Base):
                @overrides.override
                def run(self, text: str, extra: int) -> str:
                    return text
            checked = False
        except TypeError:
            checked = True  # the real check is back afterwards
        print(json.dumps([Loose.run.__override__, Called.run.__override__, checked]))
        """
    )
    assert found == [True, True, True]


def test_chromadb_imports_under_the_marking_decorator_and_the_real_one_comes_back(tmp_path):
    found = fresh_json(
        """
        import json, sys, overrides
        from pathlib import Path
        import index.store
        real = overrides.override, overrides.overrides
        store = index.store.ChromaStore(Path(sys.argv[1]))
        import chromadb.api.async_client as chroma_module  # one of Chroma's modules that imports override by name
        print(json.dumps([
            chroma_module.override is index.store._marked,
            (overrides.override, overrides.overrides) == real,
            store.count(),
        ]))
        """,
        str(tmp_path),
    )
    assert found == [True, True, 0]


def test_override_is_restored_when_the_store_fails_to_open(tmp_path):
    (tmp_path / "chroma").write_text("not a folder")
    found = fresh_json(
        """
        import json, sys, overrides
        from pathlib import Path
        from footnote.errors import ArchiveError
        from index.store import ChromaStore
        real = overrides.override, overrides.overrides
        try:
            ChromaStore(Path(sys.argv[1]))
            message = ""
        except ArchiveError as exc:
            message = str(exc)
        print(json.dumps([message.startswith("Chroma at"), (overrides.override, overrides.overrides) == real]))
        """,
        str(tmp_path),
    )
    assert found == [True, True]


_NEAREST = """
    import json, sys
    from pathlib import Path
    import numpy as np
    from index.store import ChromaStore
    store = ChromaStore(Path(sys.argv[1]))
    queries = np.random.default_rng(7).standard_normal((10, 384)).astype(np.float32)
    print(json.dumps([[cid for cid, _ in store.query(q, 50)] for q in queries]))
    """


def _fill(home, n: int, configuration: dict | None = None) -> None:
    """``n`` random unit vectors added to the home's store (``configuration``: a collection made the way Chroma
    makes one by default, as homes were before ChromaStore.HNSW)."""
    import numpy as np

    from footnote.types import Chunk
    from index.store import ChromaStore

    if configuration is not None:
        import chromadb
        from chromadb.config import Settings

        client = chromadb.PersistentClient(path=str(home / "chroma"), settings=Settings(anonymized_telemetry=False))
        client.create_collection("footnote_chunks", embedding_function=None, configuration=configuration)
    store = ChromaStore(home)
    chunks = [Chunk("p", 1, 1, "1 Intro", "introduction", 0, 1, "x", f"p:{i}") for i in range(n)]
    vectors = np.random.default_rng(1).standard_normal((n, 384)).astype(np.float32)
    store.upsert(chunks, vectors / np.linalg.norm(vectors, axis=1, keepdims=True))


def test_every_process_finds_the_same_nearest_chunks(tmp_path):
    """Chroma replays the vectors added since its HNSW index was last written each time a process opens the
    store, on several threads; with the index written every 1000 adds (Chroma's default), 700 vectors were
    replayed into a different graph by each process, and an approximate search found other neighbours."""
    _fill(tmp_path, 700)
    runs = [fresh_json(_NEAREST, str(tmp_path)) for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]


@pytest.mark.filterwarnings("ignore:legacy embedding function config")  # Chroma's own, for a collection made as ours
def test_a_store_made_with_chromas_defaults_is_set_to_write_its_index_as_often(tmp_path):
    _fill(tmp_path, 10, configuration={"hnsw": {"space": "cosine"}})
    found = fresh_json(
        """
        import json, sys
        from pathlib import Path
        from index.store import ChromaStore
        store = ChromaStore(Path(sys.argv[1]))
        print(json.dumps([store.collection.configuration_json["hnsw"], dict(ChromaStore.HNSW)]))
        """,
        str(tmp_path),
    )
    hnsw, wanted = found
    assert hnsw["sync_threshold"] == wanted["sync_threshold"] == 100 and hnsw["space"] == "cosine"


def _old_collection(home) -> None:
    """A collection made the way Chroma makes one by default, as homes were before ChromaStore.HNSW."""
    import chromadb
    from chromadb.config import Settings

    client = chromadb.PersistentClient(path=str(home / "chroma"), settings=Settings(anonymized_telemetry=False))
    client.create_collection("footnote_chunks", embedding_function=None, configuration={"hnsw": {"space": "cosine"}})


def _failing_modify(monkeypatch, errors: list[Exception]) -> list[int]:
    """Chroma's Collection.modify raising ``errors`` one by one, then doing its work; returns the calls made."""
    from chromadb.api.models.Collection import Collection

    real, calls = Collection.modify, []

    def modify(self, *args, **kwargs):
        calls.append(1)
        if errors:
            raise errors.pop(0)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Collection, "modify", modify)
    return calls


def _locked():
    from chromadb.errors import InternalError

    return InternalError("Database error: error returned from database: (code: 5) database is locked")


@pytest.mark.filterwarnings("ignore:legacy embedding function config")
def test_a_database_locked_while_settling_is_tried_again(tmp_path, monkeypatch):
    """Right after a collection was made, Chroma's SQLite answered "database is locked" to the change of its
    configuration about once in 200 tries (twice in the suite, in the test above): the change is tried again."""
    from index.store import ChromaStore

    _old_collection(tmp_path)
    calls = _failing_modify(monkeypatch, [_locked(), _locked()])
    store = ChromaStore(tmp_path)
    assert len(calls) == 3
    assert store.collection.configuration_json["hnsw"]["sync_threshold"] == ChromaStore.HNSW["sync_threshold"]


@pytest.mark.filterwarnings("ignore:legacy embedding function config")
def test_other_errors_and_a_lock_that_stays_are_not_hidden(tmp_path, monkeypatch):
    from footnote.errors import ArchiveError
    from index.store import LOCKED_TRIES, ChromaStore

    _old_collection(tmp_path)
    calls = _failing_modify(monkeypatch, [ValueError("bad configuration")])
    with pytest.raises(ArchiveError, match="bad configuration"):
        ChromaStore(tmp_path)
    assert len(calls) == 1
    calls = _failing_modify(monkeypatch, [_locked() for _ in range(LOCKED_TRIES)])
    with pytest.raises(ArchiveError, match=r"^Chroma at .*chroma: .*database is locked$"):
        ChromaStore(tmp_path)
    assert len(calls) == LOCKED_TRIES
