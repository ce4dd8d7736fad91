"""The same PDF under another name is the paper already there: skipped, never a second copy of every passage."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from footnote.settings import Settings
from index.archive import Archive
from ingest.pipeline import ingest
from summarize.run import run_digest
from tests import pdfs


@pytest.fixture
def cut(tmp_path):
    """Three pages of MoBA (2502.13189), under its arXiv id, and a byte-for-byte copy under a name of its own."""
    paper = pdfs.page_subset(pdfs.PAPERS / "2502.13189.pdf", tmp_path, [1, 2, 3], name="2502.13189.pdf")
    copy = tmp_path / "moba-copy.pdf"
    shutil.copy(paper, copy)
    return paper, copy


def test_a_copy_under_another_name_is_skipped_as_the_paper_it_is(cut, tmp_path):
    paper, copy = cut
    archive = Archive(Settings(home=tmp_path / "home"))
    try:
        first = ingest([str(paper)], archive)
        assert first.ingested == ["2502.13189"]
        count = archive.store.count()
        second = ingest([str(copy)], archive)
        assert second.ingested == [] and second.failed == []
        assert second.skipped == ["2502.13189"]
        assert second.same_as == {"local-moba-copy": "2502.13189"}
        assert second.notes == [f"{copy}: the same PDF as 2502.13189, already in the archive; skipped"]
        assert [r.id for r in archive.catalog.papers(complete_only=False)] == ["2502.13189"]
        assert archive.store.count() == count == archive.catalog.chunk_count()
    finally:
        archive.close()
    # As a user sees it: the command says which file is a copy of which paper, once.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FOOTNOTE_", "OPENAI_"))}
    done = subprocess.run(
        [sys.executable, "-m", "footnote.cli", "--home", str(tmp_path / "home"), "ingest", str(copy), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["skipped"] == ["2502.13189"]
    assert done.stderr.splitlines().count(f"{copy}: the same PDF as 2502.13189, already in the archive; skipped") == 1


def test_two_copies_in_one_run_make_one_paper(cut, tmp_path):
    paper, copy = cut
    archive = Archive(Settings(home=tmp_path / "home"))
    try:
        report = ingest([str(paper), str(copy)], archive)
        assert report.ingested == ["2502.13189"] and report.skipped == ["2502.13189"]
        assert [r.id for r in archive.catalog.papers()] == ["2502.13189"]
        assert archive.store.count() == report.chunks["2502.13189"]
    finally:
        archive.close()


def test_the_digest_of_a_copy_is_the_digest_of_the_paper(cut, tmp_path):
    paper, copy = cut
    archive = Archive(Settings(home=tmp_path / "home"))
    try:
        ingest([str(paper)], archive)
        run = run_digest("2025-02-19", archive, sources=[str(copy)], lang="en", generator="extractive")
        assert [(p.id, p.status) for p in run.digest.papers] == [("2502.13189", "ok")]
        assert run.notes == [f"{copy}: the same PDF as 2502.13189, already in the archive; skipped"]  # for stderr
    finally:
        archive.close()


def test_a_copy_of_a_paper_that_fails_fails_with_it(cut, tmp_path):
    """Two copies, and the first fails (three pages over a limit of two): the second was reported skipped as a
    paper "already in the archive" that never got there."""
    from footnote.settings import IngestSettings

    paper, copy = cut
    archive = Archive(Settings(home=tmp_path / "home", ingest=IngestSettings(max_pages=2)))
    try:
        report = ingest([str(paper), str(copy)], archive)
        assert report.ingested == [] and report.skipped == [] and report.same_as == {}
        failed = {f["source"]: f["error"] for f in report.failed}
        assert set(failed) == {str(paper), str(copy)}
        assert "over the limit of 2" in failed[str(paper)]
        assert failed[str(copy)].startswith(f"{copy}: the same PDF as 2502.13189, which failed: ")
        assert archive.catalog.papers(complete_only=False) == []
    finally:
        archive.close()
