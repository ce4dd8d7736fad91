"""Skip drawing that cannot hold text before MuPDF reads a page's text.

A plot saved by matplotlib draws each marker of a scatter or line plot by invoking a small form
XObject (a stroke-and-fill "M0"), thousands of times per figure. MuPDF interprets that form's
content stream afresh at every invocation, so one page of four such plots (2502.16982, p. 17:
about 5,000 markers) took 0.67 s to read, 40% of the text extraction of all 471 corpus pages.

A form whose content has no string (no "(" or "<"), invokes nothing ("Do"), paints no pattern
("scn"/"SCN", whose cells are content streams of their own) and opens no marked content ("BDC",
which may carry ActualText) shows no text: every text-showing operator needs a string operand.
Such forms are emptied in the open document (the file is never written back). Their invocations
("/M0 Do") are then dropped from the forms that make them, outside text objects (BT ... ET, where
"Do" may not stand and strings may), since even an empty form costs MuPDF a save, a clip and a
restore. The text MuPDF extracts is unchanged, character for character (checked on the corpus);
the page above reads in 0.03 s, 0.05 s with the rewriting.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

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
    """Empty the text-free forms of a resource dictionary, and look inside those that stay."""
    emptied = 0
    for _name, form in _forms(resources):
        num = mupdf.pdf_to_num(form)
        if num == 0 or num in seen:
            continue
        seen.add(num)
        if mupdf.pdf_to_int(mupdf.pdf_dict_get(form, _LENGTH)) <= MAX_FORM_BYTES:
            content = mupdf.pdf_load_stream(form).fz_buffer_extract()
            if content and shows_no_text(content):
                _replace_content(form, b"")
                emptied += 1
                continue
        inner = mupdf.pdf_dict_get(form, _RESOURCES)
        if mupdf.pdf_is_dict(inner):
            emptied += _walk(inner, seen)
            # Forms emptied just now, or earlier under another form.
            empty = [name for name, f in _forms(inner) if mupdf.pdf_to_int(mupdf.pdf_dict_get(f, _LENGTH)) == 0]
            _drop_invocations(form, empty)
    return emptied


def _forms(resources: mupdf.PdfObj) -> Iterator[tuple[bytes, mupdf.PdfObj]]:
    """The form XObjects of a resource dictionary, with the names it gives them."""
    xobjects = mupdf.pdf_dict_get(resources, _XOBJECT)
    if not mupdf.pdf_is_dict(xobjects):
        return
    for i in range(mupdf.pdf_dict_len(xobjects)):
        form = mupdf.pdf_dict_get_val(xobjects, i)
        if mupdf.pdf_name_eq(mupdf.pdf_dict_get(form, _SUBTYPE), _FORM):
            yield mupdf.pdf_to_name(mupdf.pdf_dict_get_key(xobjects, i)).encode("latin-1"), form


def drop_invocations(content: bytes, names: list[bytes]) -> bytes:
    """``content`` without "/<name> Do" for the given names, outside text objects."""
    if not names:
        return content
    # One pattern for every name: a plot may empty dozens of marker forms, and a replace per name and
    # separator per stretch between text objects cost 0.1 s on one paper (2501.12599).
    call = re.compile(rb"/(?:%s)(?: |\r?\n)Do" % b"|".join(re.escape(name) for name in names))
    out, pos = [], 0
    for start, end in _text_objects(content):
        out.append(call.sub(b"", content[pos:start]))
        out.append(content[start:end])
        pos = end
    out.append(call.sub(b"", content[pos:]))
    return b"".join(out)


def _text_objects(content: bytes) -> list[tuple[int, int]]:
    """Spans from each "BT" operator to the end of its "ET" (to the end of the content if none).

    Strings are not parsed: a string spelling "ET" ends a span early, and an invocation spelled by a later
    string of the same text object would be dropped from it. Nothing that writes PDFs is known to do both.
    """
    spans, pos = [], 0
    while (start := _operator(content, b"BT", pos)) >= 0:
        end = _operator(content, b"ET", start + 2)
        end = len(content) if end < 0 else end + 2
        spans.append((start, end))
        pos = end
    return spans


_DELIMITERS = frozenset(b" \t\r\n\f\x00()<>[]{}/%")


def _operator(content: bytes, op: bytes, pos: int) -> int:
    """The offset of the next ``op`` standing as a token of its own, or -1."""
    while (at := content.find(op, pos)) >= 0:
        before = content[at - 1] if at else 32
        after = content[at + len(op)] if at + len(op) < len(content) else 32
        if before in _DELIMITERS and after in _DELIMITERS:
            return at
        pos = at + 1
    return -1


def _drop_invocations(form: mupdf.PdfObj, names: list[bytes]) -> None:
    if not names:
        return
    content = mupdf.pdf_load_stream(form).fz_buffer_extract()
    kept = drop_invocations(content, names)
    if len(kept) < len(content):
        _replace_content(form, kept)


def _replace_content(form: mupdf.PdfObj, content: bytes) -> None:
    """Replace a stream's content in the open document, uncompressed (its /Filter goes)."""
    buffer = mupdf.fz_new_buffer_from_copied_data(content) if content else mupdf.FzBuffer(0)
    mupdf.pdf_update_stream(mupdf.pdf_get_bound_document(form), form, buffer, 0)
