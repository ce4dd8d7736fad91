"""index.store: what ChromaStore does around Chroma itself (the store's queries are tested in test_retrieve)."""

from __future__ import annotations

import overrides
import pytest

from footnote.errors import ArchiveError
from index.store import ChromaStore, _unchecked_overrides


class Base:
    def run(self, text: str) -> str:
        return text


def test_override_only_marks_while_a_store_opens():
    with _unchecked_overrides():

        class Loose(Base):
            @overrides.override
            def run(self, text: str, extra: int) -> str:  # not the base's signature: unchecked here
                return text

        class Called(Base):
            @overrides.override(check_signature=True)
            def run(self, text: str) -> str:
                return text

    assert Loose.run.__override__ and Called.run.__override__
    with pytest.raises(TypeError):  # the real check is back afterwards

        class Checked(Base):
            @overrides.override
            def run(self, text: str, extra: int) -> str:
                return text


def test_override_is_restored_when_a_store_fails_to_open(tmp_path):
    real = overrides.override, overrides.overrides
    (tmp_path / "chroma").write_text("not a folder")
    with pytest.raises(ArchiveError, match="Chroma at"):
        ChromaStore(tmp_path)
    assert (overrides.override, overrides.overrides) == real


def test_a_store_opens_and_counts_under_the_unchecked_decorator(tmp_path):
    real = overrides.override
    store = ChromaStore(tmp_path)
    assert store.count() == 0
    assert overrides.override is real
