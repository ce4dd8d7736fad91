"""A home remembers the embedding model of its vectors and refuses to mix in another model's."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from footnote.errors import EmbeddingModelMismatchError
from footnote.settings import Settings
from index.archive import Archive, model_of
from index.embed import BUNDLED, resolve_model_path
from index.retrieve import Query, Retriever
from ingest.pipeline import ingest


@pytest.fixture(scope="module")
def home(tmp_path_factory, paper_pdf):
    home = tmp_path_factory.mktemp("model_home")
    archive = Archive(Settings(home=home))
    assert ingest([str(paper_pdf("2505.00212"))], archive).ingested == ["2505.00212"]
    archive.close()
    return home


@pytest.fixture(scope="module")
def other_model(tmp_path_factory):
    """Another model folder, as far as the configuration can tell (a link to the bundled one's files)."""
    link = tmp_path_factory.mktemp("models") / "my-minilm"
    link.symlink_to(resolve_model_path(BUNDLED), target_is_directory=True)
    return str(link)


def test_the_first_paper_records_the_model(home):
    archive = Archive(Settings(home=home))
    assert archive.catalog.meta("embedding_model") == BUNDLED


def test_the_same_model_by_its_folder_is_accepted(home):
    settings = Settings(home=home, index={"embedding_model": resolve_model_path(BUNDLED)})
    assert Retriever(Archive(settings)).search(Query("failure attribution", k=3))


def test_another_model_is_refused_for_queries(home, other_model):
    archive = Archive(Settings(home=home, index={"embedding_model": other_model}))
    with pytest.raises(EmbeddingModelMismatchError) as info:
        Retriever(archive).search(Query("failure attribution", k=3))
    message = str(info.value)
    assert str(home) in message and BUNDLED in message and other_model in message and "\n" not in message


def test_another_model_is_refused_for_ingest_and_nothing_is_written(home, other_model, paper_pdf):
    env = {**os.environ, "FOOTNOTE_EMBEDDING_MODEL": other_model}
    for args in (["ingest", str(paper_pdf("2504.21798"))], ["cite", "failure attribution"]):
        done = subprocess.run(
            [sys.executable, "-m", "footnote.cli", "--home", str(home), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert done.returncode != 0, args
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert lines[-1].startswith("error: ") and "embedding model" in lines[-1], done.stderr
    archive = Archive(Settings(home=home))
    assert [p.id for p in archive.catalog.papers()] == ["2505.00212"]
    assert archive.catalog.meta("embedding_model") == BUNDLED


def test_a_home_from_before_models_were_recorded_is_not_locked_to_the_next_one(tmp_path, other_model, paper_pdf):
    """Which model made its vectors is unknown, so a later ingest with another model records nothing either."""
    home = tmp_path / "old"
    archive = Archive(Settings(home=home))
    assert ingest([str(paper_pdf("2505.00212"))], archive).ingested == ["2505.00212"]
    archive.catalog._db.execute("DELETE FROM meta")  # as a home made before this record existed
    archive.close()
    later = Archive(Settings(home=home, index={"embedding_model": other_model}))
    assert ingest([str(paper_pdf("2504.21801"))], later).ingested == ["2504.21801"]
    assert later.catalog.meta("embedding_model") is None
    assert Retriever(Archive(Settings(home=home))).search(Query("failure attribution", k=3))


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("bundled:all-MiniLM-L6-v2#openvino", "bundled:all-MiniLM-L6-v2"),
        ("bundled:all-MiniLM-L6-v2", "bundled:all-MiniLM-L6-v2"),
        ("/models/a#b/minilm#onnx-int8", "/models/a#b/minilm"),
        ("/models/a#b/minilm", "/models/a#b/minilm"),
    ],
)
def test_model_of_drops_only_a_backend_suffix(name, model):
    assert model_of(name) == model
