"""The terminal tables and lists: what a paper says is printed as it is, never read as rich markup."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from footnote.render import TITLE_CHARS, answer_text, ingest_table, matches_text, papers_table, short_title
from index.catalog import PaperRecord
from ingest.version import TEXT_VERSION

BRACKETS = "Why [CLS] and [bold] tokens matter [/] in [/x] ViTs"


def record(title: str, paper_id: str = "2501.00001", **fields) -> PaperRecord:
    values = dict(version=None, authors=(), abstract="", source_url="", sha256="0" * 64, pages=3, chunks=4)
    values |= dict(sections=(), published=None, status="complete", ingested_at="2026-12-07T10:00:00.123456")
    return PaperRecord(paper_id, title=title, **{**values, "parser": TEXT_VERSION, **fields})


def test_a_title_with_brackets_is_listed_whole(capsys):
    papers_table([record(BRACKETS)])
    raw = capsys.readouterr().out
    out = " ".join(raw.split())  # the table wraps the title over lines
    for piece in ("[CLS]", "[bold]", "[/]", "[/x]"):
        assert piece in out
    assert "1 paper" in raw and "1 papers" not in raw


def test_the_count_of_papers_agrees_with_its_noun(capsys):
    papers_table([record("One"), record("Two", "2501.00002")])
    assert "2 papers" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Short title", "Short title"),
        ("x" * TITLE_CHARS, "x" * TITLE_CHARS),
        (
            "DeepSeekMoE: Towards Ultimate Expert Specialization in Mixture-of-Experts Language Models",
            "DeepSeekMoE: Towards Ultimate Expert Specialization in Mixture-of-Experts…",
        ),
        ("y" * (TITLE_CHARS + 5), "y" * (TITLE_CHARS - 1) + "…"),
    ],
)
def test_a_long_title_is_cut_at_a_word_and_says_so(title, expected):
    short = short_title(title)
    assert short == expected
    assert len(short) <= TITLE_CHARS


def test_an_ingest_failure_naming_brackets_is_printed_whole(capsys):
    report = SimpleNamespace(
        ingested=["2501.00001"],
        skipped=[],
        failed=[{"source": "in/[draft].pdf", "error": "in/[draft].pdf: not a PDF (starts with b'[x]')"}],
        pages={"2501.00001": 3},
        chunks={"2501.00001": 4},
    )
    ingest_table(report)
    out = " ".join(capsys.readouterr().out.split())
    assert "[draft]" in out and "b'[x]'" in out


def cite_match(**fields) -> SimpleNamespace:
    """A qa.cite.Match as render reads it: one of 2501.00001, p. 2, with ``fields`` set."""
    match = {
        "paper_id": "2501.00001",
        "page": 2,
        "section": "Method",
        "score": 0.5,
        "title": "Draft",
        "quote": "It works.",
        "span": None,
        "numbers_found": True,
    }
    return SimpleNamespace(**{**match, **fields})


def test_a_match_whose_section_has_brackets_is_printed_whole(capsys):
    match = cite_match(
        section="3 Method [sketch]", title="A [bold] title", quote="It reaches 85.2% on [val].", span=(11, 16)
    )
    matches_text("85.2%", [match])
    out = capsys.readouterr().out
    assert "3 Method [sketch]" in out and "A [bold] title" in out and "[val]" in out
    matches_text("[red]nothing[/red]", [])
    assert "'[red]nothing[/red]'" in capsys.readouterr().out


def test_an_answer_with_brackets_is_printed_whole(capsys):
    citation = SimpleNamespace(paper_id="2501.00001", page=4)
    answer = SimpleNamespace(
        abstained=False,
        statements=[SimpleNamespace(text="The [CLS] token is pooled.", citations=[citation])],
        note="",
    )
    answer_text(answer)
    out = capsys.readouterr().out
    assert "The [CLS] token is pooled." in out and "[2501.00001 p. 4]" in out


def test_an_answer_citing_a_local_paper_shows_its_citation(capsys):
    """A PDF ingested from a file gets an id like "local-draft"; "[local-draft p. 3]" was read as a markup tag
    and the statement was printed with no citation at all."""
    citation = SimpleNamespace(paper_id="local-draft", page=3)
    answer = SimpleNamespace(
        abstained=False, statements=[SimpleNamespace(text="It works.", citations=[citation])], note=""
    )
    answer_text(answer)
    assert "It works. [local-draft p. 3]" in capsys.readouterr().out


def test_a_match_in_a_local_paper_gets_no_arxiv_link(capsys):
    match = cite_match(paper_id="local-draft", numbers_found=None)
    matches_text("works", [match])
    out = capsys.readouterr().out
    assert "local-draft" in out and "arxiv.org" not in out
    matches_text("works", [SimpleNamespace(**{**vars(match), "paper_id": "2501.00001"})])
    assert "https://arxiv.org/pdf/2501.00001#page=2" in capsys.readouterr().out


def test_a_trailing_backslash_is_printed_once(capsys):
    """rich.markup.escape doubles a trailing backslash (it guards what is appended after it)."""
    citation = SimpleNamespace(paper_id="2501.00001", page=1)
    answer = SimpleNamespace(
        abstained=False, statements=[SimpleNamespace(text="A path C:\\temp\\", citations=[citation])], note=""
    )
    answer_text(answer)
    assert "A path C:\\temp\\ [2501.00001 p. 1]" in capsys.readouterr().out
    papers_table([record("Ends in \\")])
    out = capsys.readouterr().out
    assert "Ends in \\ " in out and "Ends in \\\\" not in out
