"""The real `footnote` console script: ingest a folder with good and bad PDFs, then list the papers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from index.archive import Archive
from tests import pdfs
from tests.conftest import make_settings

GOOD = ("2501.17811", "2502.13189")  # 13 and 15 pages: small real papers
SCRIPT = Path(sys.executable).with_name("footnote")


def run(*args: str, cwd: Path, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FOOTNOTE_", "OPENAI_"))}
    env.update(extra_env or {})
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


def no_traceback(done: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout


@pytest.fixture(scope="module")
def inbox(tmp_path_factory, paper_pdf) -> Path:
    folder = tmp_path_factory.mktemp("inbox")
    for paper_id in GOOD:
        shutil.copy(paper_pdf(paper_id), folder / f"{paper_id}.pdf")
    pdfs.truncated_copy(paper_pdf("2505.00212"), folder, "broken-download.pdf")
    pdfs.html_named_pdf(folder, "error-page.pdf")
    (folder / "README.txt").write_text("not a paper, not picked up")
    return folder


@pytest.fixture(scope="module")
def ingested(inbox, tmp_path_factory):
    """Two runs of `footnote --home H ingest INBOX --json` and one `footnote --home H papers --json`."""
    home = tmp_path_factory.mktemp("cli") / "home"
    first = run("--home", str(home), "ingest", str(inbox), "--json", cwd=inbox)
    second = run("--home", str(home), "ingest", str(inbox), "--json", cwd=inbox)
    listing = run("--home", str(home), "papers", "--json", cwd=inbox)
    return home, first, second, listing


def check_failures(done: subprocess.CompletedProcess, inbox: Path) -> None:
    report = json.loads(done.stdout)
    failed = {Path(f["source"]).name: f["error"] for f in report["failed"]}
    assert set(failed) == {"broken-download.pdf", "error-page.pdf"}
    assert "truncated" in failed["broken-download.pdf"]
    assert "not a PDF" in failed["error-page.pdf"]
    for item in report["failed"]:
        assert set(item) == {"source", "error"}
        assert Path(item["source"]).parent == inbox
        assert item["source"] in item["error"] and "\n" not in item["error"]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    for name, reason in (("broken-download.pdf", "truncated"), ("error-page.pdf", "not a PDF")):
        naming = [line for line in lines if name in line]
        assert len(naming) == 1, done.stderr
        assert reason in naming[0]
    no_traceback(done)


def test_first_run_ingests_the_good_and_reports_the_bad(ingested, inbox):
    _home, first, _second, _listing = ingested
    assert first.returncode == 1, first.stderr
    report = json.loads(first.stdout)  # stdout is exactly the JSON document
    assert set(report) == {"ingested", "skipped", "failed", "warnings"}
    assert report["warnings"] == []
    assert sorted(report["ingested"]) == sorted(GOOD)
    assert report["skipped"] == []
    assert len(report["failed"]) == 2
    check_failures(first, inbox)


def test_second_run_skips_what_is_there_and_still_reports_the_bad(ingested, inbox):
    _home, _first, second, _listing = ingested
    assert second.returncode == 1, second.stderr
    report = json.loads(second.stdout)
    assert report["ingested"] == []
    assert sorted(report["skipped"]) == sorted(GOOD)
    check_failures(second, inbox)


def test_papers_json_lists_what_was_ingested(ingested):
    home, _first, _second, listing = ingested
    assert listing.returncode == 0, listing.stderr
    no_traceback(listing)
    records = {r["id"]: r for r in json.loads(listing.stdout)}
    assert sorted(records) == sorted(GOOD)
    sources = pdfs.sources_md()
    titles = {"2501.17811": "Janus-Pro", "2502.13189": "MoBA"}
    for paper_id, record in records.items():
        assert set(record) >= {"id", "title", "pages", "chunks", "sections", "ingested_at"}
        assert record["pages"] == sources[paper_id][1]
        assert titles[paper_id].lower() in record["title"].lower()
        assert record["chunks"] >= 30
        assert "Abstract" in record["sections"] or "ABSTRACT" in record["sections"]
        assert any("Introduction" in s for s in record["sections"])
        assert record["ingested_at"] and record["ingested_at"][:2] == "20"
    # the listing agrees with the archive itself
    archive = Archive(make_settings(home))
    try:
        for paper_id, record in records.items():
            assert len(archive.catalog.chunks_of(paper_id)) == record["chunks"]
            assert len(archive.store.ids(paper_id)) == record["chunks"]
    finally:
        archive.close()


def test_plain_output_has_no_traceback_and_names_each_failure(ingested, inbox):
    home, *_ = ingested
    done = run("--home", str(home), "ingest", str(inbox), cwd=inbox)
    assert done.returncode == 1
    no_traceback(done)
    assert sum("broken-download.pdf" in line for line in done.stderr.splitlines()) == 1
    listing = run("--home", str(home), "papers", cwd=inbox)
    assert listing.returncode == 0 and "2501.17811" in listing.stdout
    no_traceback(listing)


def test_bad_sources_only_exit_one_with_one_line_each(tmp_path):
    home = tmp_path / "home"
    done = run("--home", str(home), "ingest", "../../nowhere.pdf", "javascript:alert(1)", "--json", cwd=tmp_path)
    assert done.returncode == 1
    no_traceback(done)
    report = json.loads(done.stdout)
    assert report["ingested"] == [] and report["skipped"] == []
    assert [f["source"] for f in report["failed"]] == ["../../nowhere.pdf", "javascript:alert(1)"]
    assert len([line for line in done.stderr.splitlines() if "nowhere.pdf" in line]) == 1


def test_locked_home_gives_one_line_error(tmp_path, inbox):
    home = tmp_path / "home"
    archive = Archive(make_settings(home))
    try:
        with archive.write_lock():
            done = run("--home", str(home), "ingest", str(inbox / "2501.17811.pdf"), cwd=tmp_path)
    finally:
        archive.close()
    assert done.returncode == 1
    no_traceback(done)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "another footnote process" in errors[0] and f"pid {os.getpid()}" in errors[0]


def test_usage_error_without_sources(tmp_path):
    done = run("--home", str(tmp_path / "home"), "ingest", cwd=tmp_path)
    assert done.returncode == 2
    assert "give at least one SOURCE" in done.stderr
    no_traceback(done)


def test_a_damaged_pdf_is_ingested_with_a_warning_naming_its_empty_pages(tmp_path, paper_pdf):
    path = pdfs.repaired_copy(paper_pdf("2502.13189"), tmp_path, "moba-half.pdf")
    done = run("--home", str(tmp_path / "home"), "ingest", str(path), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    said = f"{path}: damaged PDF, repaired by MuPDF; pages 14-15 have no text"
    assert report["ingested"] == ["local-moba-half"]
    assert report["warnings"] == [{"source": str(path), "paper_id": "local-moba-half", "warning": said}]
    assert f"warning: {said}" in done.stderr.splitlines()
    assert "MuPDF error" not in done.stderr
    no_traceback(done)

    # The warning stays with the paper: `papers` and every later digest of it say what is missing.
    damage = "damaged PDF, repaired by MuPDF; pages 14-15 have no text"
    listed = json.loads(run("--home", str(tmp_path / "home"), "papers", "--json", cwd=tmp_path).stdout)
    assert [p["warning"] for p in listed] == [damage]
    table = run("--home", str(tmp_path / "home"), "papers", cwd=tmp_path).stdout
    assert f"warning: local-moba-half: {damage}" in table.splitlines()
    out = tmp_path / "digest.md"
    args = ("--home", str(tmp_path / "home"), "digest", "2025-02-18", "--lang", "en", "--out", str(out))
    done = run(*args, "--papers", str(path), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [p["warning"] for p in json.loads(done.stdout)["papers"]] == [damage]
    assert f"warning: local-moba-half: {damage}" in done.stderr.splitlines()
    assert f"**warning**: {damage}" in out.read_text()


def test_a_paper_read_by_an_older_footnote_is_read_again(tmp_path, paper_pdf):
    """Re-ingesting the same PDF is skipped, unless the archive's text of it came from another TEXT_VERSION (an
    older footnote's parser): then it is read again, and said so. A home from before versions were recorded
    has none ('')."""
    import sqlite3

    from ingest.version import TEXT_VERSION

    home, pdf = tmp_path / "home", str(paper_pdf("2502.13189"))
    first = run("--home", str(home), "ingest", pdf, "--json", cwd=tmp_path)
    assert json.loads(first.stdout)["ingested"] == ["2502.13189"], first.stderr
    again = run("--home", str(home), "ingest", pdf, "--json", cwd=tmp_path)
    assert json.loads(again.stdout)["skipped"] == ["2502.13189"]
    listed = json.loads(run("--home", str(home), "papers", "--json", cwd=tmp_path).stdout)
    assert [p["text_version"] for p in listed] == [TEXT_VERSION]
    assert "older footnote" not in run("--home", str(home), "papers", cwd=tmp_path).stdout
    with sqlite3.connect(home / "archive.sqlite") as db:
        db.execute("UPDATE papers SET parser=''")
    said = "1 of 1 papers were read by an older footnote; ingest their PDFs again to read them with this one"
    assert f"{said} (2502.13189)" in run("--home", str(home), "papers", cwd=tmp_path).stdout.splitlines()
    redo = run("--home", str(home), "ingest", pdf, "--json", cwd=tmp_path)
    assert redo.returncode == 0, redo.stderr
    assert json.loads(redo.stdout)["ingested"] == ["2502.13189"]
    assert "2502.13189: read again (an older footnote read its text)" in redo.stderr.splitlines()
    listed = json.loads(run("--home", str(home), "papers", "--json", cwd=tmp_path).stdout)
    assert [(p["id"], p["text_version"]) for p in listed] == [("2502.13189", TEXT_VERSION)]
