"""Text as papers set it and as people type it, made the same: LaTeX's math letters as the letters they stand for."""

from __future__ import annotations

import re
import unicodedata

# LaTeX's math letters and digits: the Mathematical Alphanumeric Symbols (U+1D400-U+1D7FF: 𝑁, 𝐾, 𝛼, 𝟏) and the
# letters of Letterlike Symbols that block leaves out and NFKC maps to letters (ℎ, math italic h; ℓ, ℝ, ℒ, ...).
MATH_LETTERS = re.compile(
    "[\u2102\u210a-\u210e\u2110-\u2113\u2115\u2119-\u211d\u2124\u2128\u212c\u212d\u212f-\u2131\u2133\u2134"
    "\U0001d400-\U0001d7ff]+"
)


_LOWER = re.compile(r"[a-z]{2,}")


def _plain(m: re.Match) -> str:
    plain = unicodedata.normalize("NFKC", m.group())
    word = _LOWER.match(m.string, m.end())  # a word set against the variable ("𝑁experts")
    if word is None or MATH_LETTERS.match(m.string, word.end()) or m.string[word.end() : word.end() + 1].isalnum():
        return plain  # not one: "𝑖-th", or letters of a math word ("ℎigℎ", "high" in math italic)
    return plain + " "


def plain_math(text: str) -> str:
    """Math letters as the letters they stand for (NFKC: 𝑁 -> N, 𝛼 -> α, 𝟏 -> 1, ℎ -> h), and a space where a
    PDF set a variable against the next word with none: "top-K out of N experts", not "top-𝐾out of 𝑁experts",
    which neither the lexical index (one word "𝐾out") nor the embedding model's vocabulary (an unknown word)
    could read. The parser writes every paper's text so, and cite and ask read a claim or question pasted from a
    PDF so."""
    return MATH_LETTERS.sub(_plain, text)
