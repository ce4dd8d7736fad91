"""Shared fixtures: the real corpus beside the checkout, real homes with real papers ingested."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
# Tests never read the developer's own endpoint or key.
for _name in list(os.environ):
    if _name.startswith(("FOOTNOTE_", "OPENAI_")) and not _name.startswith("FOOTNOTE_TEST_"):
        del os.environ[_name]
# The embedding backend is pinned to fp32 on onnxruntime, whose vectors are the same on every CPU: "auto" picks
# int8 on most (OpenVINO's or onnxruntime's, by the CPU's units; index.embed.resolve_backend), whose vectors differ
# by machine, and with them which of two near-equal passages ranks first in the tests that check a ranking on the
# real corpus. What "auto" picks, and each backend's agreement with fp32, are tested on their own
# (test_backend_choice.py, test_embed.py); recall per backend is measured by bench/qa_eval.py.
os.environ["FOOTNOTE_EMBEDDING_BACKEND"] = "onnx"

pytest_plugins = ["tests.httpserver", "tests.llmserver"]

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
PAPERS = CORPUS / "papers"
# Small and varied: a two-column ICML paper, a 42-page paper with appendices, a one-column report.
SMALL_SET = ("2505.00212", "2504.21798", "2501.12948")


def pytest_configure(config: pytest.Config) -> None:
    if not PAPERS.is_dir():
        raise pytest.UsageError(f"the corpus is missing: {PAPERS} (../shared must sit beside the checkout)")


@pytest.fixture(scope="session")
def corpus() -> Path:
    return CORPUS


@pytest.fixture(scope="session")
def paper_pdf():
    def path(paper_id: str) -> Path:
        return PAPERS / f"{paper_id}.pdf"

    return path


def make_settings(home: Path, **sections):
    from footnote.settings import Settings

    return Settings(home=home, **sections)


@pytest.fixture(scope="session")
def small_home(tmp_path_factory) -> Path:
    """A home with SMALL_SET ingested once per test session (real parse, embed, Chroma)."""
    from index.archive import Archive
    from ingest.pipeline import ingest

    home = tmp_path_factory.mktemp("small_home")
    archive = Archive(make_settings(home))
    report = ingest([str(PAPERS / f"{pid}.pdf") for pid in SMALL_SET], archive)
    archive.close()
    assert sorted(report.ingested) == sorted(SMALL_SET), report.failed
    return home


@pytest.fixture(scope="session")
def corpus_home(tmp_path_factory) -> Path:
    """A home with all 19 corpus papers ingested once per test session."""
    from index.archive import Archive
    from ingest.pipeline import ingest

    home = tmp_path_factory.mktemp("corpus_home")
    archive = Archive(make_settings(home))
    report = ingest([str(PAPERS)], archive)
    archive.close()
    assert len(report.ingested) == 19, report.failed
    return home
