"""What every benchmark script starts with: offline, quiet libraries; the repository's packages first on
sys.path (bench/ingest.py must not shadow the ingest/ package); the corpus beside the checkout; a timed ingest.

Import it first (`import common`): the scripts run as `python bench/NAME.py`, so bench/ is on sys.path."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CORPUS = ROOT.parent / "shared" / "corpus" / "papers"
QUESTIONS = Path(__file__).resolve().parent / "questions.json"
HELDOUT = Path(__file__).resolve().parent / "questions_heldout.json"  # written after ask was tuned on QUESTIONS
FRESH = Path(__file__).resolve().parent / "questions_fresh.json"  # written after ask was tuned on both, run once
BLIND = Path(__file__).resolve().parent / "questions_blind.json"  # written without reading the code, run once
BLIND2 = Path(__file__).resolve().parent / "questions_blind2.json"  # the same way, after all the tuning, run once
BLIND3 = Path(__file__).resolve().parent / "questions_blind3.json"  # the same way, with comparisons, run once
BLIND4 = Path(__file__).resolve().parent / "questions_blind4.json"  # the same way, after this stop's fixes
BLIND5 = Path(__file__).resolve().parent / "questions_blind5.json"  # the same way, in stop 12
BLIND6 = Path(__file__).resolve().parent / "questions_blind6.json"  # the same way, run after stop 12's changes
BLIND7 = Path(__file__).resolve().parent / "questions_blind7.json"  # the same way, 18 why-questions, in stop 18
BLIND8 = Path(__file__).resolve().parent / "questions_blind8.json"  # the same way, in stop 17 (2026-12-06)


def ingest_timed(home: Path, sources: Sequence[Path | str]) -> float:
    """Ingest the sources into the home with the default settings; seconds taken. Exits if any failed."""
    from footnote.settings import Settings
    from index.archive import Archive
    from ingest.pipeline import ingest

    start = time.perf_counter()
    archive = Archive(Settings(home=home))
    try:
        report = ingest([str(s) for s in sources], archive)
    finally:
        archive.close()
    if report.failed:
        raise SystemExit(f"error: ingest failed for {report.failed}")
    return time.perf_counter() - start
