"""index.store: what ChromaStore does around Chroma itself (the store's queries are tested in test_retrieve).

Each test runs in a fresh interpreter: the `overrides` decorator is only swapped while chromadb is first
imported, and the test process has imported it long before."""

from __future__ import annotations

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
