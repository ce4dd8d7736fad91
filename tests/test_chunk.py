"""ingest.chunk on the whole real corpus: every chunk is text from the pages it claims, inside one section."""

from __future__ import annotations

import bisect
import functools
import re
import subprocess
import sys

import pytest

from footnote.types import Chunk
from ingest.chunk import chunk_paper
from ingest.parse import parse_pdf
from tests import pdfs
from tests.conftest import SMALL_SET
from tests.pdfs import corpus_ids, found_in_order, norm, parsed, pymupdf_pages, unhyphened

ALL = corpus_ids()


@functools.cache
def embedder():
    from index.embed import default_embedder

    return default_embedder()  # only its tokenizer is used here: the model itself stays unloaded


@functools.cache
def chunks_of(paper_id: str) -> tuple[Chunk, ...]:
    return tuple(chunk_paper(paper_id, parsed(paper_id), count_tokens=embedder().count_tokens))


@pytest.mark.parametrize("paper_id", ALL)
def test_chunk_text_is_the_parsed_text_of_its_pages(paper_id):
    doc = parsed(paper_id)
    offsets = doc.page_offsets()
    chunks = chunks_of(paper_id)
    assert len(chunks) >= 30
    for c in chunks:
        assert c.paper_id == paper_id
        assert c.text == doc.text[c.char_start : c.char_end]
        assert c.text == c.text.strip() and c.text
        assert 1 <= c.page_start <= c.page_end <= doc.page_count
        # the claimed pages are exactly the pages the span touches
        assert bisect.bisect_right(offsets, c.char_start) == c.page_start
        assert bisect.bisect_right(offsets, c.char_end - 1) == c.page_end
        assert norm(c.text) in norm(" ".join(doc.pages[c.page_start - 1 : c.page_end]))


@functools.cache
def in_pymupdfs_order(paper_id: str) -> tuple[object, tuple[Chunk, ...]]:
    """The paper parsed and chunked with PyMuPDF's order of blocks kept: where the parser brings up the next
    column's block to end a broken word (one block of the corpus, 2505.00212 p. 1; tests/test_parse.py), chunks
    are no longer runs of PyMuPDF's text in its order, which is what the check below compares with."""
    from unittest import mock

    import ingest.parse

    with mock.patch.object(ingest.parse, "_bring_up_continuations", lambda blocks, is_word: None):
        doc = parse_pdf(pdfs.PAPERS / f"{paper_id}.pdf")
    return doc, tuple(chunk_paper(paper_id, doc, count_tokens=embedder().count_tokens))


@functools.cache
def pages_not_contiguous(paper_id: str) -> tuple[str, ...]:
    """Check every chunk against PyMuPDF's plain text of each page it claims (junk chars removed).

    The chunk's piece on each page must be found there, whitespace-normalised. Where the parser
    dropped something in the middle of the piece (a running header, a page number, invisible text),
    the piece's blocks must still be found there in order; returns the ids of those chunks.
    """
    doc, chunks = in_pymupdfs_order(paper_id)
    offsets = doc.page_offsets()
    raw = [unhyphened(page) for page in pymupdf_pages(paper_id)]
    gapped = []
    for c in chunks:
        for page in range(c.page_start, c.page_end + 1):
            start = max(c.char_start, offsets[page - 1])
            end = min(c.char_end, offsets[page - 1] + len(doc.pages[page - 1]))
            piece = doc.text[start:end]
            if unhyphened(piece) in raw[page - 1]:
                continue
            parts = [unhyphened(line) for line in piece.split("\n") if unhyphened(line)]
            assert found_in_order(parts, raw[page - 1]), f"{c.id} (page {page}): {c.text[:120]!r}"
            gapped.append(c.id)
    return tuple(dict.fromkeys(gapped))


@pytest.mark.parametrize("paper_id", ALL)
def test_chunk_text_is_found_in_pymupdfs_own_text_of_its_pages(paper_id):
    pages_not_contiguous(paper_id)


def test_nearly_every_chunk_is_one_contiguous_run_of_pymupdf_text():
    total = sum(len(in_pymupdfs_order(p)[1]) for p in ALL)
    gapped = [cid for p in ALL for cid in pages_not_contiguous(p)]
    assert total > 2000
    assert len(gapped) <= total // 100, gapped


@pytest.mark.parametrize("paper_id", ALL)
def test_no_chunk_spans_two_sections(paper_id):
    sections = parsed(paper_id).sections
    starts = [s.char_start for s in sections]
    for c in chunks_of(paper_id):
        section = sections[bisect.bisect_right(starts, c.char_start) - 1]
        assert section.char_start <= c.char_start < c.char_end <= section.char_end, c.id
        assert (c.section, c.kind) == (section.title, section.kind)


@pytest.mark.parametrize("paper_id", ALL)
def test_chunks_cover_every_section_and_advance(paper_id):
    doc = parsed(paper_id)
    chunks = chunks_of(paper_id)
    for section in doc.sections:
        body = doc.text[section.char_start : section.char_end]
        inside = [c for c in chunks if section.char_start <= c.char_start < section.char_end]
        if len(body.strip()) < 40:
            continue
        assert inside, section.title
        # no text is lost between neighbouring chunks
        covered = [False] * len(body)
        for c in inside:
            for i in range(c.char_start - section.char_start, c.char_end - section.char_start):
                covered[i] = True
        lost = [body[i] for i, ok in enumerate(covered) if not ok and not body[i].isspace()]
        assert not lost, (section.title, "".join(lost)[:80])
        starts = [c.char_start for c in inside]
        assert starts == sorted(set(starts))


def test_chunks_fit_the_embedding_model():
    model = embedder()
    sizes: list[int] = []
    for paper_id in ALL:
        sizes.extend(model.count_tokens([c.text for c in chunks_of(paper_id)]))
    within = sum(size <= model.max_tokens for size in sizes)
    assert model.max_tokens == 256
    assert within >= 0.99 * len(sizes), f"{len(sizes) - within} of {len(sizes)} chunks are over {model.max_tokens}"
    # and they are real passages, not slivers
    assert sorted(sizes)[len(sizes) // 2] >= 100


def test_chunk_size_follows_the_setting():
    doc = parsed("2505.00212")
    model = embedder()
    small = chunk_paper("2505.00212", doc, max_tokens=64, overlap=0, count_tokens=model.count_tokens)
    default = chunks_of("2505.00212")
    assert len(small) > 2 * len(default)
    sizes = model.count_tokens([c.text for c in small])
    assert sum(s <= 64 for s in sizes) >= 0.95 * len(sizes)


@pytest.mark.parametrize("paper_id", SMALL_SET)
def test_chunk_ids_are_stable_and_unique(paper_id):
    again = chunk_paper(
        paper_id, parse_pdf(pdfs.PAPERS / f"{paper_id}.pdf"), count_tokens=embedder().count_tokens
    )  # a fresh parse, not the cached one
    first = chunks_of(paper_id)
    assert [c.id for c in again] == [c.id for c in first]
    assert again == list(first)
    ids = [c.id for c in first]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(re.escape(paper_id) + r":[0-9a-f]{16}", i) for i in ids)


@pytest.mark.parametrize(
    ("paper_id", "entry"),
    [
        ("2505.00212", "Chateval: Towards better llm-based evaluators"),
        ("2504.21798", "Introducing claude 3.5 sonnet"),
        ("2501.12948", "Llama 3.1 model card"),
    ],
)
def test_bibliography_chunks_have_kind_references(paper_id, entry):
    chunks = chunks_of(paper_id)
    holding = [c for c in chunks if entry in c.text]
    assert holding
    assert all(c.kind == "references" and c.is_reference for c in holding)
    refs = [c for c in chunks if c.kind == "references"]
    assert len(refs) >= 3
    assert all(c.section.lower().startswith(("references", "bibliography")) for c in refs)
    # and the body is not: the introduction's chunks are not references
    assert not any(c.is_reference for c in chunks if c.kind == "introduction")


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("Pan et al. (2024a) train on it. It helps.", ["Pan et al. (2024a) train on it.", "It helps."]),
        ("As in Pan et al. [12], we train. It helps.", ["As in Pan et al. [12], we train.", "It helps."]),
        ("Fig. 3 shows it. See Eq. 2 and Sec. 4.", ["Fig. 3 shows it.", "See Eq. 2 and Sec. 4."]),
        ("Please see App. B for more. Tab. 2 too.", ["Please see App. B for more.", "Tab. 2 too."]),
        ("Models (e.g. Qwen, i.e. ours) work.", ["Models (e.g. Qwen, i.e. ours) work."]),
        # after "et al.", a word that begins sentences of papers begins one
        ("We follow Pan et al. We then train.", ["We follow Pan et al.", "We then train."]),
        ("We follow Pan et al. The model differs.", ["We follow Pan et al.", "The model differs."]),
    ],
)
def test_abbreviations_of_papers_do_not_end_a_sentence(text, sentences):
    from ingest.chunk import sentence_spans

    assert [text[s:e] for s, e in sentence_spans(text)] == sentences


@pytest.mark.parametrize("paper_id", ALL)
def test_no_sentence_of_the_body_ends_in_an_abbreviation(paper_id):
    """Punkt's news model ended a sentence after "et al.", "Fig.", "Eq.", "Sec." or "App.": 332 sentences of the
    corpus's bodies did, each cutting one in two (a digest quoted "(2024a), compared to models fine-tuned on
    SWE-smith." as a sentence). Bibliographies may (an entry's authors end in "et al.")."""
    cut = re.compile(r"\b(?:al|Figs?|Eqs?|Secs?|Tab|App|Alg|cf|resp)\.$")
    for chunk in chunks_of(paper_id):
        if chunk.kind != "references":
            assert not [chunk.text[s:e] for s, e in chunk.sentences if cut.search(chunk.text[s:e])], chunk.id


def test_a_sentence_that_cites_by_name_and_year_is_one_sentence():
    sentences = [c.text[s:e] for c in chunks_of("2504.21798") for s, e in c.sentences]
    whole = (
        "Table 3: Resolve rates for existing solutions on SWE-bench Lite and Verified, collected from Jimenez et al. "
        "(2024a), compared to models fine-tuned on SWE-smith."
    )
    assert whole in sentences
    assert not [s for s in sentences if s.startswith("(2024a), compared")]


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        (
            "across domains, includ\n*Equal contribution 1Penn State.",
            ["across domains, includ", "*Equal contribution 1Penn State."],
        ),
        ("It can\n†Work done at DeepSeek.", ["It can", "†Work done at DeepSeek."]),
        # an asterisk that ends a line, or one inside it, begins nothing
        ("We use 2 *\nA matrices.", ["We use 2 *\nA matrices."]),
        ("The best run * Marked in bold.", ["The best run * Marked in bold."]),
    ],
)
def test_a_line_that_opens_a_footnote_begins_a_sentence(text, sentences):
    from ingest.chunk import sentence_spans

    assert [text[s:e] for s, e in sentence_spans(text)] == sentences


def test_a_papers_first_footnote_is_not_part_of_the_sentence_above_it():
    """2505.00212's first column ends mid-word above its footnotes; the digest in the README quoted "... across
    various domains, includ *Equal contribution 1Pennsylvania State University ..." as one sentence."""
    sentences = [c.text[s:e] for c in chunks_of("2505.00212") for s, e in c.sentences]
    assert not [s for s in sentences if "includ" in s and "Equal contribution" in s]
    assert [s for s in sentences if s.startswith("*Equal contribution 1Pennsylvania State University")]


def test_chunks_carry_their_sentence_spans_through_the_catalog(tmp_path):
    """Sentence spans are split once at ingest and stored, so queries never run Punkt; they are the
    packing's own sentences, nearly always what splitting the chunk alone would give (over the corpus: where
    they differ, a table's or a figure's run of lines over 600 characters is cut at other line breaks)."""
    from index.catalog import Catalog
    from ingest.chunk import sentence_spans

    every = [c for paper_id in ALL for c in chunks_of(paper_id)]
    agree = 0
    for c in every:
        assert c.sentences, c.id
        starts = [s for s, _ in c.sentences]
        assert starts == sorted(starts) and c.sentences[0][0] == 0 and c.sentences[-1][1] <= len(c.text)
        assert all(c.text[s:e].strip() for s, e in c.sentences)
        agree += [c.text[s:e].strip() for s, e in c.sentences] == [
            c.text[s:e].strip() for s, e in sentence_spans(c.text)
        ]
    assert agree >= 0.95 * len(every)

    chunks = chunks_of("2502.13189")

    catalog = Catalog(tmp_path / "archive.sqlite")
    try:
        from footnote.types import Paper

        paper = Paper(id="2502.13189", version=1, title="MoBA", authors=(), abstract="", source_url="", sha256="0")
        catalog.begin_paper(paper, None)
        catalog.complete_paper("2502.13189", [], chunks, [])
        stored = catalog.chunks([c.id for c in chunks])
        assert [stored[c.id].sentences for c in chunks] == [c.sentences for c in chunks]
    finally:
        catalog.close()


def test_a_catalog_from_before_sentence_spans_is_upgraded_and_split_on_read(tmp_path):
    import sqlite3

    from index.catalog import Catalog

    path = tmp_path / "archive.sqlite"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE chunks (n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, paper_id TEXT NOT NULL, "
        "page_start INTEGER NOT NULL, page_end INTEGER NOT NULL, section TEXT NOT NULL, kind TEXT NOT NULL, "
        "char_start INTEGER NOT NULL, char_end INTEGER NOT NULL, text TEXT NOT NULL)"
    )
    old.execute("INSERT INTO chunks VALUES (1, 'p:1', 'p', 1, 1, 'Intro', 'introduction', 0, 20, 'One. Two is here.')")
    old.commit()
    old.close()
    catalog = Catalog(path)
    try:
        chunk = catalog.chunks(["p:1"])["p:1"]
        assert chunk.sentences is None and chunk.text == "One. Two is here."
    finally:
        catalog.close()


SPLIT = (
    "from ingest.chunk import sentence_tokenizer; "
    "spans = list(sentence_tokenizer().span_tokenize('MoBA is fast. Table 2 shows a 6.5x speedup. It scales.')); "
)


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)


def test_punkt_loads_without_importing_all_of_nltk():
    """Punkt's modules only: nltk/__init__.py would import scipy.stats and most of NLTK (seconds per ingest)."""
    done = _python(SPLIT + "import sys; print(spans, 'nltk.collocations' in sys.modules, 'scipy.stats' in sys.modules)")
    assert done.stdout.split() == ["[(0,", "13),", "(14,", "43),", "(44,", "54)]", "False", "False"]


def test_nltk_imported_later_or_earlier_is_the_whole_package():
    later = _python(SPLIT + "import nltk; print(spans == [(0, 13), (14, 43), (44, 54)], callable(nltk.word_tokenize))")
    assert later.stdout.split() == ["True", "True"]
    earlier = _python("import nltk; " + SPLIT + "print(spans == [(0, 13), (14, 43), (44, 54)])")
    assert earlier.stdout.split() == ["True"]
