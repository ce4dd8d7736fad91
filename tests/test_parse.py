"""ingest.parse on the real corpus (page counts, clean text, sections, running text) and on bad PDFs."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
import unicodedata
from collections import Counter
from pathlib import Path

import pymupdf
import pytest

from footnote.errors import FootnoteError, PDFError
from footnote.text import MATH_LETTERS
from ingest.parse import TEXT_FLAGS, ParsedPDF, _blocks_are_exact, _dict_blocks, _page_blocks, clean, parse_pdf
from tests import pdfs
from tests.pdfs import corpus_ids, found_in_order, norm, parsed, pymupdf_pages, unhyphened

ALL = corpus_ids()


def test_corpus_is_complete():
    assert len(ALL) == 19
    assert set(ALL) == set(pdfs.sources_md())


@pytest.mark.parametrize("paper_id", ALL)
def test_page_count_matches_sources_md(paper_id):
    doc = parsed(paper_id)
    _title, pages = pdfs.sources_md()[paper_id]
    assert doc.page_count == pages
    assert len(doc.pages) == pages
    assert doc.skipped_pages == ()


@pytest.mark.parametrize("paper_id", ALL)
def test_every_page_has_text_and_keeps_most_of_it(paper_id):
    doc = parsed(paper_id)
    raw = pymupdf_pages(paper_id)
    for number, (text, page_raw) in enumerate(zip(doc.pages, raw, strict=True), start=1):
        assert len(text.strip()) >= 100, f"page {number} is (nearly) empty"
        if (paper_id, number) == ("2503.20783", 7):
            continue  # half of PyMuPDF's text there is invisible 0-pt LaTeXiT payload, which the parser drops
        # Only running text (headers, footers, page numbers, margin stamps) may go.
        assert len(norm(text)) >= 0.8 * len(norm(page_raw)), f"page {number} lost text"


@pytest.mark.parametrize("paper_id", ALL)
def test_page_text_is_pymupdfs_text_in_order(paper_id, monkeypatch):
    """Every block of a parsed page is PyMuPDF's own text of that page, in order (but for the hyphens at line ends
    that footnote keeps and PyMuPDF drops). The one block of the corpus that footnote moves, to end a word broken
    before a footnote and a caption (2505.00212, p. 1), stays in PyMuPDF's place here: that move has its own
    test below."""
    import ingest.parse

    monkeypatch.setattr(ingest.parse, "_bring_up_continuations", lambda blocks, is_word: None)
    doc = parse_pdf(pdfs.PAPERS / f"{paper_id}.pdf")
    for number, (text, page_raw) in enumerate(zip(doc.pages, pymupdf_pages(paper_id), strict=True), start=1):
        parts = [unhyphened(line) for line in text.split("\n") if unhyphened(line)]
        assert found_in_order(parts, unhyphened(page_raw)), f"page {number}"


@pytest.mark.parametrize("paper_id", ALL)
def test_fast_blocks_path_gives_exactly_the_dict_paths_blocks(paper_id):
    """Most pages are read from PyMuPDF's cheap "blocks" output; on every page it must give the very blocks
    (texts and boxes) that the span-level "dict" path gives, the one that can drop sub-1pt spans."""
    with pymupdf.open(pdfs.PAPERS / f"{paper_id}.pdf") as doc:
        for number, page in enumerate(doc, start=1):
            textpage = page.get_textpage(flags=TEXT_FLAGS)
            assert _page_blocks(textpage, number) == _dict_blocks(textpage, number), number


def test_pages_with_invisible_or_dropped_lines_are_read_from_dict():
    with pymupdf.open(pdfs.PAPERS / "2503.20783.pdf") as doc:
        textpage = doc[6].get_textpage(flags=TEXT_FLAGS)  # LaTeXiT's 0-pt payload, in lines of its own and mixed in
        assert not _blocks_are_exact(textpage, textpage.extractBLOCKS())
        textpage = doc[1].get_textpage(flags=TEXT_FLAGS)  # plain text
        assert _blocks_are_exact(textpage, textpage.extractBLOCKS())


def test_hyphenated_line_ends_are_joined_like_pymupdf_does():
    page1 = parsed("2505.00212").pages[0]
    assert "multi-agent systems—identifying the agent" in page1
    assert "sys- tems" not in page1 and "sys-tems" not in page1
    assert "systems—identifying" in pymupdf_pages("2505.00212")[0]  # the oracle agrees


@pytest.mark.parametrize(
    ("paper_id", "kept", "joined"),
    [
        ("2504.21798", "SWE-smith", "SWEsmith"),  # a capital before the hyphen
        ("2501.12948", "DeepSeek-R1", "DeepSeekR1"),  # a capital after it
        ("2502.13189", "Llama-8B-1M-MoBA", "Llama-8B1M-MoBA"),  # a digit after it
        ("2505.00212", "step-by-step", "stepby-step"),  # the next word hyphenated too
        ("2401.06066", "parameter-efficient", "parameterefficient"),  # written so inside lines of the paper
    ],
)
def test_a_line_end_hyphen_that_joins_words_is_kept(paper_id, kept, joined):
    """PyMuPDF's TEXT_DEHYPHENATE drops every hyphen at a line's end, so its text (and footnote's quotes) read
    "SWEsmith" and "stepby-step", words no paper wrote."""
    text = parsed(paper_id).text
    assert kept in text and joined not in text
    assert joined in "".join(pymupdf_pages(paper_id))  # PyMuPDF joined at least one of them


def test_no_word_is_made_at_a_line_end_that_the_paper_does_not_write():
    """Joining "text-to-" + "image" took only "to" for the word before the hyphen and made "text-toimage"; the
    capital rule made "DeepSeek-MoE" where DeepSeekMoE's paper writes "DeepSeekMoE" 222 times inside its lines."""
    text = "\n".join(parsed(p).text for p in ALL)
    for made in ("text-toimage", "chain-ofthought", "step-bystep", "end-toend", "trial-anderror", "llm-as-ajudge"):
        assert made not in text
    for written in ("text-to-image", "chain-of-thought", "step-by-step", "end-to-end", "trial-and-error"):
        assert written in text
    moe = parsed("2401.06066").text
    assert moe.count("DeepSeek-MoE") == moe.count("github.com/deepseek-ai/DeepSeek-MoE")  # only its URL


def test_a_word_broken_for_the_line_is_joined():
    text = "\n".join(parsed(p).text for p in ("2401.06066", "2505.00212"))
    for broken in ("perfor-mance", "parame-ters", "combina-tion", "ac-curacy", "\u2060"):
        assert broken not in text
    flat = " ".join(text.split())
    for broken in ("ac curacy", "Polo sukhin", "atten tion"):  # broken at a column's end, across two blocks
        assert broken not in flat
    assert "step-level accuracy" in " ".join(parsed("2505.00212").pages[5].split())  # p. 6


def test_a_word_broken_at_a_blocks_end_is_joined_to_its_end_in_the_next():
    from ingest.parse import LINE_HYPHEN, _Block, _resolve_hyphens

    def block(text: str) -> _Block:
        return _Block(1, 0.0, 10.0, 100.0, text)

    pages = [
        [
            block(f"in step-level ac{LINE_HYPHEN}"),
            block("curacy. Next sentence."),
            block(f"a column ends Aux-Loss{LINE_HYPHEN}"),
            block("Free Models"),  # a capital: no continuation, the hyphen goes as before
            block(f"cut off{LINE_HYPHEN}"),
            block("here"),
        ]
    ]
    _resolve_hyphens(pages)
    assert [b.text for b in pages[0]] == [
        "in step-level accuracy.",
        "Next sentence.",
        "a column ends Aux-Loss",
        "Free Models",
        "cut offhere",
    ]


def test_a_word_broken_before_floats_is_joined_to_its_end_in_the_next_column():
    """2505.00212, p. 1: the left column ends "includ-"; MuPDF reads the column's footnote and the right column's
    figure caption next, then "ing coding (Hong et al., 2023), ...". The block that ends the word is brought up."""
    page = parsed("2505.00212").pages[0]
    flat = " ".join(page.split())
    assert "across various domains, including coding (Hong et al., 2023), scientific discovery" in flat
    assert flat.index("(Fourney et al., 2024).") < flat.index("*Equal contribution")
    assert "includ *Equal" not in flat and "includ-" not in flat


def test_only_the_block_that_ends_the_word_is_brought_up():
    from ingest.parse import LINE_HYPHEN, _Block, _resolve_hyphens

    def block(text: str, x1: float = 300.0) -> _Block:
        return _Block(1, 0.0, 10.0, x1, text)

    pages = [
        [
            block(f"Agents act in many domains, includ{LINE_HYPHEN}"),
            block("*Equal contribution 1University."),
            block("Figure 1. When developing agents,", x1=550.0),
            block("failure attribution has limited attention.", x1=550.0),  # lower case, but "includfailure"
            block("ing coding and discovery.", x1=550.0),
            block("Including the rest, we write including twice, and performance too."),
            block(f"A left-column word broken, perfor{LINE_HYPHEN}"),
            block("Table 2. Scores."),
            block("mance in the same column"),  # "performance", but not to the right: left where it is
        ]
    ]
    _resolve_hyphens(pages)
    assert [b.text for b in pages[0]][:3] == [
        "Agents act in many domains, including",
        "coding and discovery.",
        "*Equal contribution 1University.",
    ]
    assert [b.text for b in pages[0]][-3:-1] == ["A left-column word broken, perfor", "Table 2. Scores."]


def test_line_end_hyphens_follow_the_papers_own_spelling():
    from ingest.parse import LINE_HYPHEN, _Block, _resolve_hyphens

    def block(text: str) -> _Block:
        return _Block(1, 0.0, 10.0, 100.0, text)

    m = LINE_HYPHEN
    pages = [
        [block(f"we use fine{m}tuning, pre{m}training, perfor{m}mance, text-to{m}image, Deep{m}SeekMoE, SWE{m}smith")],
        [
            block("Full fine-tuning beats fine-tuning of heads; pretraining is pretraining. DeepSeekMoE is new."),
            block(f"end{m}"),
        ],
    ]
    _resolve_hyphens(pages)
    assert pages[0][0].text == (
        "we use fine-tuning, pretraining, performance, text-to-image, DeepSeekMoE, SWE-smith"  # last: a capital
    )
    assert pages[1][1].text == "end"  # a block's last line: the hyphen goes, as before


@pytest.mark.parametrize("paper_id", ALL)
def test_text_has_no_control_surrogate_or_private_use_chars(paper_id):
    doc = parsed(paper_id)
    for number, text in enumerate(doc.pages, start=1):
        text.encode("utf-8")  # lone surrogates would raise here
        bad = {c for c in text if c != "\n" and unicodedata.category(c) in ("Cc", "Cs", "Co")} | (
            {"\ufffd"} & set(text)
        )
        assert not bad, f"page {number}: {sorted(map(hex, map(ord, bad)))}"
        for line in text.split("\n"):
            assert line and line == line.strip() and "  " not in line, f"page {number}: {line[:60]!r}"
    assert doc.title and doc.title == clean(doc.title)


def test_math_letters_are_written_as_letters_apart_from_the_next_word():
    """DeepSeekMoE sets its variables in LaTeX's math italic against the next word: "top-𝐾out of 𝑁experts" was one
    unknown word to the embedding model and "𝐾out" one word to the lexical index."""
    text = parsed("2401.06066").text
    assert "activate the top-K out of N experts" in text and "stacking L layers of standard" in text
    assert "the i-th expert" in text  # a hyphen after the variable: no space
    for paper_id in ALL:
        assert not MATH_LETTERS.search(parsed(paper_id).text), paper_id  # ℎ (U+210E) included
    assert clean("𝛼=0.5 for 𝟏𝟎 steps; 𝑔𝑖,𝑡denotes") == "α=0.5 for 10 steps; gi,t denotes"
    # Math italic h is a Letterlike Symbol (ℎ), not in the math block; a math word gets no space inside it.
    assert clean("𝑊𝑂∈ℝ𝑑ℎ𝑛ℎdenotes; 𝜀IS ℎigℎto") == "WO∈Rdhnh denotes; εIS high to"


@pytest.mark.parametrize("paper_id", ALL)
def test_title_is_the_papers_title(paper_id):
    title, _pages = pdfs.sources_md()[paper_id]

    def alnum(s: str) -> str:
        return re.sub(r"[^a-z0-9]", "", s.lower())

    got = parsed(paper_id).title
    assert 8 <= len(got) <= 300
    assert alnum(got)[:25] in alnum(title), (got, title)


# ---------------------------------------------------------------- sections


@pytest.mark.parametrize("paper_id", ALL)
def test_sections_tile_the_text_and_start_at_their_heading(paper_id):
    doc = parsed(paper_id)
    text = doc.text
    sections = doc.sections
    assert sections[0].char_start == 0
    assert sections[-1].char_end == len(text)
    for before, after in itertools.pairwise(sections):
        assert before.char_end == after.char_start
        assert after.char_end > after.char_start
    for section in sections[1:]:
        assert text.startswith(section.title, section.char_start), section.title


@pytest.mark.parametrize("paper_id", ALL)
def test_introduction_references_and_abstract_are_found(paper_id):
    doc = parsed(paper_id)
    kinds = [s.kind for s in doc.sections]
    assert "introduction" in kinds
    assert "references" in kinds
    assert kinds.index("introduction") < kinds.index("references")
    if paper_id == "2506.13585":
        # MiniMax-M1 prints its abstract without a heading: it stays in the front matter.
        front = doc.text[: doc.sections[1].char_start]
        assert "We introduce MiniMax-M1" in front
    else:
        assert "abstract" in kinds
        assert kinds.index("abstract") < kinds.index("introduction")


def test_a_heading_the_outline_has_is_one_though_it_reads_like_a_table_row():
    """ "7. DeepSeekMoE 145B Ongoing": a number of three digits marks table rows ("3 Training 1234"), and the section
    was lost into the one before it; the PDF's outline names it, and that settles it."""
    titles = [s.title for s in parsed("2401.06066").sections]
    assert titles[titles.index("6.2. Evaluations") + 1 :][:3] == [
        "7. DeepSeekMoE 145B Ongoing",
        "7.1. Experimental Setup",
        "7.2. Evaluations",
    ]


def test_two_column_icml_paper_sections():
    doc = parsed("2505.00212")
    by_title = {s.title: s.kind for s in doc.sections}
    assert by_title["Abstract"] == "abstract"
    assert by_title["1. Introduction"] == "introduction"
    assert by_title["References"] == "references"
    assert by_title["Appendix"] == "appendix"
    assert by_title["A. Additional Experiments"] == "appendix"
    assert by_title["6. Conclusion"] == "conclusion"
    titles = [s.title for s in doc.sections]
    assert titles.index("1. Introduction") < titles.index("References") < titles.index("Appendix")
    # the references section is the bibliography
    refs = next(s for s in doc.sections if s.kind == "references")
    assert "Chateval: Towards better llm-based evaluators" in doc.text[refs.char_start : refs.char_end]


def test_headings_after_references_are_appendix_or_back_matter():
    for paper_id in ("2505.00212", "2504.21798", "2501.12948"):
        kinds = [s.kind for s in parsed(paper_id).sections]
        after = kinds[kinds.index("references") + 1 :]
        assert after, paper_id
        assert set(after) <= {"appendix", "acknowledgments", "references"}, (paper_id, after)


# ---------------------------------------------------------------- running text


def test_running_header_is_dropped_from_every_page():
    header = "Title Suppressed Due to Excessive Size"
    raw = pymupdf_pages("2505.00212")
    assert sum(header in page for page in raw[1:]) >= 15  # the header really is printed
    for number, text in enumerate(parsed("2505.00212").pages, start=1):
        assert header not in text, f"page {number}"


def test_repeated_section_header_is_dropped():
    # O1 Replication Journey prints "References" atop each page of its bibliography.
    raw = pymupdf_pages("2410.18982")
    pages = parsed("2410.18982").pages
    for number in (21, 22):
        assert raw[number - 1].startswith("References\n")
        assert not pages[number - 1].startswith("References")
    kinds = [(s.title, s.kind) for s in parsed("2410.18982").sections]
    assert kinds.count(("References", "references")) == 1


@pytest.mark.parametrize("paper_id", ALL)
def test_margin_text_repeated_on_many_pages_is_dropped(paper_id):
    blocks_per_page: list[set[str]] = []
    with pymupdf.open(pdfs.PAPERS / f"{paper_id}.pdf") as doc:
        for page in doc:
            h = page.rect.height
            blocks_per_page.append(
                {
                    clean(b[4])
                    for b in page.get_text("blocks", flags=TEXT_FLAGS)
                    if b[6] == 0 and (b[3] <= 0.08 * h or b[1] >= 0.92 * h) and clean(b[4])
                }
            )
    counts = Counter(t for blocks in blocks_per_page for t in blocks)
    running = {t for t, n in counts.items() if n >= max(3, len(blocks_per_page) // 3)}
    pages = parsed(paper_id).pages
    for number in range(2, len(pages) + 1):  # page 1 keeps the paper's title
        lines = set(pages[number - 1].split("\n"))
        leaked = running & blocks_per_page[number - 1] & lines
        assert not leaked, f"page {number}: {leaked}"


@pytest.mark.parametrize("paper_id", ALL)
def test_bare_page_numbers_are_dropped(paper_id):
    pages = parsed(paper_id).pages
    numbered = 0
    with pymupdf.open(pdfs.PAPERS / f"{paper_id}.pdf") as doc:
        for number, page in enumerate(doc, start=1):
            h = page.rect.height
            margin_numbers = {
                b[4].strip()
                for b in page.get_text("blocks", flags=TEXT_FLAGS)
                if b[6] == 0 and (b[3] <= 0.1 * h or b[1] >= 0.9 * h) and re.fullmatch(r"\d{1,3}", b[4].strip())
            }
            numbered += bool(margin_numbers)
            lines = pages[number - 1].split("\n")
            assert lines[0] not in margin_numbers and lines[-1] not in margin_numbers, f"page {number}"
    assert numbered >= 0.8 * len(pages)  # the check ran on real page numbers


def test_tables_and_captions_are_kept():
    page6 = parsed("2505.00212").pages[5]
    assert "Table 1. Performance of the three failure attribution methods" in page6
    assert "Agent-Level Accuracy 29.10 12.00 29.10 12.00" in page6  # table cells
    assert "Figure 3. Performance comparison of three failure attribution meth" in page6
    r1 = parsed("2501.12948").pages
    assert "Figure 1 | Benchmark performance of DeepSeek-R1." in r1[0]
    assert "Table 4 | Comparison between DeepSeek-R1 and other representative models." in r1[12]
    assert "AIME 2024 (Pass@1) 16.0 9.3 39.2 63.6 79.2 79.8" in r1[12]


def test_page_offsets_index_the_joined_text():
    doc = parsed("2505.00212")
    offsets = doc.page_offsets()
    assert offsets[0] == 0
    for start, page in zip(offsets, doc.pages, strict=True):
        assert doc.text[start : start + len(page)] == page


# ---------------------------------------------------------------- bad PDFs


SRC = pdfs.PAPERS / "2505.00212.pdf"

BAD = [
    ("truncated-half", lambda d: pdfs.truncated_copy(SRC, d, "half.pdf", 0.5), "truncated"),
    ("truncated-tail", lambda d: pdfs.truncated_copy(SRC, d, "tail.pdf", 0.999), "truncated"),
    ("html", lambda d: pdfs.html_named_pdf(d, "page.pdf"), "not a PDF"),
    ("empty", lambda d: pdfs.empty_file(d, "empty.pdf"), "not a PDF"),
    ("encrypted", lambda d: pdfs.encrypted_copy(SRC, d, "locked.pdf"), "encrypted"),
    ("image-only", lambda d: pdfs.image_only_pdf(SRC, d, "scan.pdf"), "no extractable text"),
    ("zero-pages", lambda d: pdfs.zero_page_pdf(d, "zero.pdf"), "no pages"),
]


@pytest.mark.parametrize(("maker", "reason"), [(m, r) for _n, m, r in BAD], ids=[n for n, _m, _r in BAD])
def test_bad_pdf_gives_one_line_error_naming_the_file(tmp_path, maker, reason):
    path = maker(tmp_path)
    with pytest.raises(PDFError) as info:
        parse_pdf(path)
    message = str(info.value)
    assert reason in message
    assert path.name in message
    assert "\n" not in message and len(message) < 300
    assert isinstance(info.value, FootnoteError)
    # Given as bytes, the error names the label the caller passed.
    with pytest.raises(PDFError, match=re.escape(reason)) as info2:
        parse_pdf(path.read_bytes(), name="papers/upload-7.pdf")
    assert str(info2.value).startswith("papers/upload-7.pdf: ")
    with pytest.raises(PDFError) as info3:  # a name with a line break still gives one line
        parse_pdf(path.read_bytes(), name="two\nlines.pdf")
    assert "\n" not in str(info3.value) and "lines.pdf" in str(info3.value)


def test_a_damaged_pdf_that_opens_says_what_is_missing(tmp_path):
    """Half of MoBA's bytes and an end-of-file marker: MuPDF rebuilds the file, the last two pages are gone. It is
    read, and says so in words (the ingest reports it as a warning); MuPDF's own messages stay off stderr."""
    path = pdfs.repaired_copy(pdfs.PAPERS / "2502.13189.pdf", tmp_path)
    doc = parse_pdf(path)
    assert doc.repaired and doc.page_count == 15
    assert doc.damage() == "damaged PDF, repaired by MuPDF; pages 14-15 have no text"
    assert doc.pages[0] == parsed("2502.13189").pages[0]  # later pages lose the math fonts' symbols, cut off too
    assert all(len(page) > 1000 for page in doc.pages[:13])
    assert parsed("2502.13189").damage() is None
    run = subprocess.run(
        [sys.executable, "-c", f"from ingest.parse import parse_pdf; parse_pdf(open({str(path)!r}, 'rb').read())"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0 and "MuPDF" not in run.stderr, run.stderr


def test_too_many_pages_names_the_limit(tmp_path):
    with pytest.raises(PDFError) as info:
        parse_pdf(SRC, max_pages=5)
    message = str(info.value)
    assert "2505.00212.pdf" in message
    assert "18 pages" in message and "limit of 5" in message and "max_pages" in message
    assert "\n" not in message
    assert parse_pdf(SRC, max_pages=18).page_count == 18  # the limit is inclusive


def test_pdf_encrypted_without_user_password_is_read(tmp_path):
    path = pdfs.encrypted_copy(pdfs.PAPERS / "2501.17811.pdf", tmp_path, "owner-only.pdf", user_pw="")
    with pymupdf.open(path) as doc:
        assert "AES" in (doc.metadata or {}).get("encryption", "")
        assert not doc.needs_pass
    doc = parse_pdf(path)
    assert doc.page_count == 13
    assert doc.pages == parsed("2501.17811").pages


def test_odd_metadata_title_is_cleaned(tmp_path):
    path = pdfs.odd_metadata_pdf(tmp_path)
    with pymupdf.open(path) as doc:
        raw_title = doc.metadata["title"]
    assert any(unicodedata.category(c) in ("Cc", "Co") for c in raw_title)  # the junk really is there
    doc = parse_pdf(path)
    assert isinstance(doc, ParsedPDF)
    doc.title.encode("utf-8")
    assert not any(unicodedata.category(c) in ("Cc", "Cs", "Co") for c in doc.title), repr(doc.title)
    assert "Title" in doc.title and "junk" in doc.title
    assert doc.pages[0].startswith(pdfs.BODY_LINE.format(k=0))


def test_cut_down_real_pdf_keeps_its_pages_text(tmp_path):
    path = pdfs.page_subset(SRC, tmp_path, [1, 2, 3], "cut.pdf")
    doc = parse_pdf(path)
    assert doc.page_count == 3
    assert doc.pages[0] == parsed("2505.00212").pages[0]


def test_path_source_is_read_from_disk(tmp_path: Path):
    missing = tmp_path / "gone.pdf"
    with pytest.raises(OSError):
        parse_pdf(missing)


def test_pymupdfs_companion_packages_are_not_loaded_with_it():
    """pymupdf_layout (an ONNX layout model) and pymupdf4llm come with PyMuPDF 2; parsing needs neither, and a
    later import of either still works."""
    code = (
        "import sys; import ingest.parse, pymupdf; "
        "print(sorted(m for m in ('onnxruntime', 'pymupdf.layout', 'pymupdf4llm') if sys.modules.get(m)), "
        "pymupdf._get_layout is None); import pymupdf4llm; print(pymupdf4llm.__name__)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split() == ["[]", "True", "pymupdf4llm"]
