"""ingest.forms: text-free form XObjects are emptied before MuPDF reads a page, and no text is lost."""

from __future__ import annotations

import pymupdf
import pytest

from ingest.forms import drop_invocations, empty_textless_forms, shows_no_text
from ingest.parse import TEXT_FLAGS, parse_pdf
from tests import pdfs
from tests.pdfs import corpus_ids

MARKER = b"0 -3.5 m\n0.928211 -3.5 1.81853 -3.13122 2.474874 -2.474874 c\nh\nB\n"


def _page_obj(page: pymupdf.Page):
    return pymupdf.mupdf.pdf_page_from_fz_page(page.this).obj()


@pytest.mark.parametrize(
    "content",
    [
        b"BT /F1 10 Tf 0 0 Td (5000) Tj ET",
        b"BT /F1 10 Tf [<0102> -20 <0304>] TJ ET",  # hex strings only
        b"q 1 0 0 1 5 5 cm /Fm1 Do Q",  # a form inside may show text
        b"/Pattern cs /P0 scn 0 0 10 10 re f",  # a pattern cell is a content stream of its own
        b"/Span <</ActualText (x)>> BDC 0 0 m 1 1 l S EMC",
        b"/Span /MC0 BDC 0 0 m 1 1 l S EMC",  # ActualText kept in the resources
    ],
)
def test_content_that_may_show_text_is_kept(content):
    assert not shows_no_text(content)


def test_path_only_content_shows_no_text():
    assert shows_no_text(MARKER)
    assert shows_no_text(b"q 0.5 w 0 0 1 RG [2 1] 0 d 0 0 m 10 10 l S Q /GS0 gs 1 0 0 rg 0 0 5 5 re f")


def test_the_scatter_markers_of_a_plot_page_are_emptied_and_its_text_is_unchanged():
    """2502.16982 p. 17: four matplotlib plots drawing about 5,000 markers, each an invocation of a small form."""
    with pymupdf.open(pdfs.PAPERS / "2502.16982.pdf") as doc:
        before = doc[16].get_text("text", flags=TEXT_FLAGS)
        assert empty_textless_forms(_page_obj(doc[16]), set()) == 8  # M0 and M1 of each plot
        page = doc[16]
        assert page.get_text("text", flags=TEXT_FLAGS) == before
        assert "5000" in before  # the plots' tick labels, shown by the plot forms, which are kept
        plots = [xref for xref, name, invoker, _bbox in page.get_xobjects() if invoker == 0]
        assert len(plots) == 4
        for xref in plots:  # the emptied markers are no longer invoked at all
            assert b"/M0 Do" not in doc.xref_stream(xref)
            assert b"BT" in doc.xref_stream(xref)
        assert empty_textless_forms(_page_obj(page), set()) == 0  # emptied forms are not text-free forms any more


def test_invocations_are_dropped_outside_text_objects_only():
    content = b"q 1 0 0 1 5 5 cm /M0 Do Q\nBT /F1 9 Tf (/M0 Do) Tj ET\n/M0\nDo /M01 Do /M1 Do BT(ET)Tj ET/M0 Do"
    assert drop_invocations(content, [b"M0"]) == (
        b"q 1 0 0 1 5 5 cm  Q\nBT /F1 9 Tf (/M0 Do) Tj ET\n /M01 Do /M1 Do BT(ET)Tj ET"
    )
    assert drop_invocations(content, []) == content
    # A text object left open runs to the end: nothing after its BT is touched.
    assert drop_invocations(b"/M0 Do BT (x) Tj /M0 Do", [b"M0"]) == b" BT (x) Tj /M0 Do"


@pytest.mark.parametrize("paper_id", corpus_ids())
def test_no_page_of_the_corpus_loses_a_character(paper_id):
    with pymupdf.open(pdfs.PAPERS / f"{paper_id}.pdf") as doc:
        before = [page.get_text("text", flags=TEXT_FLAGS) for page in doc]
        seen: set[int] = set()
        for page in doc:
            empty_textless_forms(_page_obj(page), seen)
        assert [page.get_text("text", flags=TEXT_FLAGS) for page in doc] == before


def _form_pdf(source_texts: list[str | None]) -> bytes:
    """A page that shows each source page through a form XObject (show_pdf_page): text, or a drawing only."""
    src = pymupdf.open()
    for text in source_texts:
        page = src.new_page(width=300, height=200)
        page.draw_circle((150, 100), 40, color=(0, 0, 1), fill=(1, 0, 0))
        if text:
            page.insert_text((20, 40), text, fontsize=11)
    out = pymupdf.open()
    page = out.new_page()
    page.insert_text((72, 72), "The body text of the page, long enough to be read as a real paper page. " * 2)
    for i in range(len(source_texts)):
        page.show_pdf_page(pymupdf.Rect(72, 120 + 210 * i, 372, 320 + 210 * i), src, i)
    return out.tobytes()


def test_a_form_that_shows_text_keeps_it_and_a_drawing_only_form_is_emptied():
    data = _form_pdf(["Figure label inside a form", None, "Another label, nested"])
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        # show_pdf_page wraps each source page in a form that invokes a second one: three text-free
        # forms would be the drawing-only page's; the text pages' forms must all stay.
        assert empty_textless_forms(_page_obj(doc[0]), set()) >= 1
        text = doc[0].get_text("text", flags=TEXT_FLAGS)
    assert "Figure label inside a form" in text
    assert "Another label, nested" in text
    assert "Figure label inside a form" in parse_pdf(data, name="forms.pdf").text


def test_a_form_mupdf_cannot_decode_costs_nothing_but_itself():
    """A drawing-only form whose stream is corrupt (MuPDF decodes what it can, with warnings): the page's own
    text and the other forms' text are read as ever."""
    data = _form_pdf(["Figure label inside a form", None])
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        drawing_only = [
            xref
            for xref, _name, invoker, _bbox in doc[0].get_xobjects()
            if invoker and b"BT" not in (doc.xref_stream(xref) or b"")
        ]
        assert drawing_only
        for xref in drawing_only:
            doc.update_stream(xref, b"x\x9c not deflate data", compress=False)
            doc.xref_set_key(xref, "Filter", "/FlateDecode")
        broken = doc.tobytes()
    with pymupdf.open(stream=broken, filetype="pdf") as doc:
        empty_textless_forms(_page_obj(doc[0]), set())
        assert "Figure label inside a form" in doc[0].get_text("text", flags=TEXT_FLAGS)
    text = parse_pdf(broken, name="broken-form.pdf").text
    assert "The body text of the page" in text
    assert "Figure label inside a form" in text


def _plots_sharing_a_marker() -> tuple[pymupdf.Document, list[int]]:
    """A page invoking two plot forms that both invoke one marker form; returns the document and the plots'
    object numbers."""
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 72), "The body text of the page.")

    def form(content: bytes, resources: str = "") -> int:
        xref = doc.get_new_xref()
        doc.update_object(xref, f"<</Type/XObject/Subtype/Form/BBox[0 0 100 100]{resources}>>")
        doc.update_stream(xref, content)
        return xref

    marker = form(MARKER)
    plots = [
        form(b"q 1 0 0 1 %d 10 cm /M0 Do Q 0 0 m 90 90 l S" % x, f"/Resources<</XObject<</M0 {marker} 0 R>>>>")
        for x in (10, 20)
    ]
    page_resources = doc.xref_get_key(page.xref, "Resources")
    assert page_resources[0] == "xref"
    resources_xref = int(page_resources[1].split()[0])
    doc.xref_set_key(resources_xref, "XObject", f"<</P1 {plots[0]} 0 R/P2 {plots[1]} 0 R>>")
    (contents,) = page.get_contents()
    doc.update_stream(contents, doc.xref_stream(contents) + b" q /P1 Do Q q /P2 Do Q")
    return doc, plots


def test_a_shared_empty_form_is_dropped_from_every_form_that_invokes_it():
    """The marker is emptied once, under the first plot; the second plot loses its invocation too."""
    doc, plots = _plots_sharing_a_marker()
    with doc:
        page = doc[0]
        assert all(b"/M0 Do" in doc.xref_stream(x) for x in plots)
        assert empty_textless_forms(_page_obj(page), set()) == 1
        assert [doc.xref_stream(x) for x in plots] == [
            b"q 1 0 0 1 10 10 cm  Q 0 0 m 90 90 l S",
            b"q 1 0 0 1 20 10 cm  Q 0 0 m 90 90 l S",
        ]
        assert "The body text of the page." in page.get_text("text", flags=TEXT_FLAGS)
