"""ingest.sources.resolve: what `footnote ingest SOURCE...` accepts, and what it refuses with one line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from footnote.errors import InvalidSourceError
from ingest.sources import LocalPDF, RemotePaper, local_id, resolve
from tests import pdfs
from tests.conftest import make_settings


def test_pdf_path_named_by_arxiv_id(paper_pdf):
    path = paper_pdf("2505.00212")
    [item] = resolve(str(path))
    assert item == LocalPDF(str(path), path, "2505.00212", None)


def test_pdf_path_with_version_in_its_name(tmp_path):
    path = tmp_path / "2505.00212v2.pdf"
    path.write_bytes(b"%PDF-1.7\n")
    [item] = resolve(str(path))
    assert isinstance(item, LocalPDF)
    assert (item.paper_id, item.version) == ("2505.00212", 2)


def test_other_pdf_names_get_a_safe_local_id(tmp_path):
    path = tmp_path / "My Paper (final) ü.pdf"
    path.write_bytes(b"%PDF-1.7\n")
    [item] = resolve(str(path))
    assert item.paper_id.startswith("local-")
    assert item.paper_id == "local-My-Paper-final"
    assert item.version is None
    assert local_id(Path("...pdf")) == ("local-paper", None)


def test_directory_gives_its_pdfs_sorted(tmp_path, paper_pdf):
    for pid in ("2505.00212", "2501.17811"):
        shutil.copy(paper_pdf(pid), tmp_path / f"{pid}.pdf")
    (tmp_path / "notes.txt").write_text("not a paper")
    (tmp_path / "SCAN.PDF").write_bytes(b"%PDF-1.7\n")
    (tmp_path / "folder.pdf").mkdir()  # a directory with a .pdf name is not a PDF
    items = resolve(str(tmp_path))
    assert [Path(i.path).name for i in items] == ["2501.17811.pdf", "2505.00212.pdf", "SCAN.PDF"]
    assert [i.paper_id for i in items] == ["2501.17811", "2505.00212", "local-SCAN"]
    assert all(isinstance(i, LocalPDF) for i in items)


def test_directory_without_pdfs_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InvalidSourceError, match=r"holds no \.pdf files"):
        resolve(str(tmp_path))


@pytest.mark.parametrize(
    ("source", "paper_id", "version"),
    [
        ("2501.12948", "2501.12948", None),
        ("2501.12948v2", "2501.12948", 2),
        ("2412.19437v12", "2412.19437", 12),
        ("hep-th/9901001v2", "hep-th/9901001", 2),
        ("https://arxiv.org/abs/2501.12948", "2501.12948", None),
        ("https://arxiv.org/abs/2501.12948v3/", "2501.12948", 3),
        ("http://arxiv.org/abs/2501.12948", "2501.12948", None),
        ("https://arxiv.org/pdf/2501.12948v2", "2501.12948", 2),
        ("https://arxiv.org/pdf/2501.12948v2.pdf", "2501.12948", 2),
        ("https://arxiv.org/html/2501.12948v1", "2501.12948", 1),
        ("https://export.arxiv.org/abs/2501.12948", "2501.12948", None),
        ("https://www.arxiv.org/abs/2501.12948", "2501.12948", None),
        ("https://arxiv.org/abs/hep-th/9901001v2", "hep-th/9901001", 2),
        ("https://huggingface.co/papers/2501.12948", "2501.12948", None),
        ("https://huggingface.co/papers/2501.12948?utm_source=x#comments", "2501.12948", None),
        ("https://hf.co/papers/2505.00212", "2505.00212", None),
        ("HTTPS://ARXIV.ORG/abs/2501.12948", "2501.12948", None),  # schemes and hosts are case-blind
    ],
)
def test_arxiv_ids_and_paper_urls_resolve(source, paper_id, version):
    [item] = resolve(source)
    assert item == RemotePaper(source, paper_id, version)


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("../../x", "no such file"),
        ("nonexistent/paper.pdf", "no such file"),
        ("paper\n.pdf", "no such file"),
        ("https://evil.example.com/\nabs/2501.12948", "not an arXiv"),
        ("2501.12948\x00", "NUL"),
        ("/etc/passwd\x00.pdf", "NUL"),
        ("javascript:alert(1)", "not an arXiv id or paper URL"),
        ("file:///etc/passwd", "unsupported URL scheme"),
        ("ftp://arxiv.org/pdf/2501.12948", "unsupported URL scheme"),
        ("https://evil.example.com/abs/2501.12948", "not an arXiv or huggingface.co/papers URL"),
        ("https://arxiv.org.evil.com/abs/2501.12948", "not an arXiv or huggingface.co/papers URL"),
        ("https://evilarxiv.org/abs/2501.12948", "not an arXiv or huggingface.co/papers URL"),
        ("https://github.com/deepseek-ai/DeepSeek-R1", "not an arXiv or huggingface.co/papers URL"),
        ("https://arxiv.org/abs/", "no arXiv id"),
        ("https://arxiv.org/abs/../../etc/passwd", "no arXiv id"),
        ("https://arxiv.org/abs/2501.12948/../../x", "no arXiv id"),
        ("https://huggingface.co/datasets/foo/bar", "no arXiv id"),
        ("https://arxiv.org/list/cs.CL/recent", "no arXiv id"),
        ("2501.129", "no such file"),
        ("", "empty source"),
        ("   ", "empty source"),
    ],
)
def test_bad_sources_are_refused_with_one_line(source, reason, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative paths resolve in an empty folder
    with pytest.raises(InvalidSourceError) as info:
        resolve(source)
    message = str(info.value)
    assert reason in message
    assert "\n" not in message and "\x00" not in message


def test_special_file_is_refused(tmp_path):
    with pytest.raises(InvalidSourceError, match="not a regular file"):
        resolve("/dev/null")


def test_existing_non_pdf_file_is_accepted_here_and_refused_by_the_parser(tmp_path, monkeypatch):
    """resolve takes any existing file (a PDF may be named anything); parsing names what is wrong."""
    from index.archive import Archive
    from ingest.pipeline import ingest

    (tmp_path / "a" / "b").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "a" / "b")  # so ../../x is tmp_path/x, which does not exist

    [item] = resolve("/etc/passwd")
    assert isinstance(item, LocalPDF) and item.paper_id == "local-passwd"
    html = pdfs.html_named_pdf(tmp_path)
    archive = Archive(make_settings(tmp_path / "home"))
    try:
        report = ingest(["/etc/passwd", str(html), "../../x"], archive)
        assert report.ingested == [] and report.skipped == []
        errors = {f["source"]: f["error"] for f in report.failed}
        assert set(errors) == {"/etc/passwd", str(html), "../../x"}
        assert errors["/etc/passwd"].startswith("/etc/passwd: not a PDF")
        assert errors[str(html)].startswith(f"{html}: not a PDF")
        assert "no such file" in errors["../../x"]
        assert archive.papers() == []
        assert archive.catalog.chunk_count() == 0
    finally:
        archive.close()
