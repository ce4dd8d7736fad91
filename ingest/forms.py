"""Skip drawing that cannot hold text before MuPDF reads a page's text.

A plot saved by matplotlib draws each marker of a scatter or line plot by invoking a small form
XObject (a stroke-and-fill "M0"), thousands of times per figure. MuPDF interprets that form's
content stream afresh at every invocation, so one page of four such plots (2502.16982, p. 17:
about 5,000 markers) took 0.67 s to read, 40% of the text extraction of all 471 corpus pages.

A form whose content has no string (no "(" or "<"), invokes nothing ("Do"), paints no pattern
("scn"/"SCN", whose cells are content streams of their own) and opens no marked content ("BDC",
which may carry ActualText) shows no text: every text-showing operator needs a string operand.
Such forms are emptied in the open document (the file is never written back), which MuPDF then
skips for the cost of a graphics-state save and restore. The text MuPDF extracts is unchanged,
character for character (checked on the corpus); the page above reads in 0.13 s.
"""

from __future__ import annotations

from pymupdf import mupdf

_RESOURCES = mupdf.pdf_new_name("Resources")
_XOBJECT = mupdf.pdf_new_name("XObject")
_SUBTYPE = mupdf.pdf_new_name("Subtype")
_FORM = mupdf.pdf_new_name("Form")
_LENGTH = mupdf.pdf_new_name("Length")

# Byte sequences any of which may let a content stream show text (see the module's docstring).
_MAY_SHOW_TEXT = (b"(", b"<", b"Do", b"scn", b"SCN", b"BDC")

# Forms larger than this (encoded) are left as they are: markers are a few hundred bytes, and
# decoding a large form that shows text (most figures) would cost without saving anything.
MAX_FORM_BYTES = 16_384


def shows_no_text(content: bytes) -> bool:
    """Whether a decoded content stream certainly draws no text."""
    return not any(token in content for token in _MAY_SHOW_TEXT)


def empty_textless_forms(page_obj: mupdf.PdfObj, seen: set[int]) -> int:
    """Empty the text-free form XObjects a page uses, at any depth; return how many were emptied.

    ``page_obj`` is the page's dictionary; ``seen`` holds the object numbers already looked at
    in this document (forms are shared between pages) and is updated.
    """
    resources = mupdf.pdf_dict_get_inheritable(page_obj, _RESOURCES)
    return _walk(resources, seen)


def _walk(resources: mupdf.PdfObj, seen: set[int]) -> int:
    xobjects = mupdf.pdf_dict_get(resources, _XOBJECT)
    if not mupdf.pdf_is_dict(xobjects):
        return 0
    emptied = 0
    for i in range(mupdf.pdf_dict_len(xobjects)):
        form = mupdf.pdf_dict_get_val(xobjects, i)
        num = mupdf.pdf_to_num(form)
        if num == 0 or num in seen or not mupdf.pdf_name_eq(mupdf.pdf_dict_get(form, _SUBTYPE), _FORM):
            continue
        seen.add(num)
        if mupdf.pdf_to_int(mupdf.pdf_dict_get(form, _LENGTH)) <= MAX_FORM_BYTES:
            content = mupdf.pdf_load_stream(form).fz_buffer_extract()
            if content and shows_no_text(content):
                mupdf.pdf_update_stream(mupdf.pdf_get_bound_document(form), form, mupdf.FzBuffer(0), 0)
                emptied += 1
                continue
        inner = mupdf.pdf_dict_get(form, _RESOURCES)
        if mupdf.pdf_is_dict(inner):
            emptied += _walk(inner, seen)
    return emptied
