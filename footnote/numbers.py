"""Numbers as statements and sources write them, normalised so that 4.5× == 4.5x, 45% == 45 %,
1,000 == 1000 and 128k == 128K. Shared by retrieval (exact-number boost) and verification."""

from __future__ import annotations

import re
from dataclasses import dataclass

# A number with an optional unit: 4.5×, 4.5x, 45%, 45 %, 1,000, 7B, 128K, 0.5M, 3e-4.
_NUMBER = re.compile(
    r"(?<![\w.])[-−]?(?P<value>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?(?:[eE][-−]?\d+)?)"
    r"\s?(?P<unit>%|×|x(?![a-zA-Z])|[KMBTkmbt](?![a-zA-Z]))?"
)


@dataclass(frozen=True)
class Number:
    value: str  # canonical: no thousands separators, no trailing zeros after the point
    unit: str  # "", "%", "×", "K", "M", "B", "T"
    text: str  # as written

    def matches(self, other: Number) -> bool:
        """Whether this (claimed) number is supported by ``other`` (found in a source). A unit on the claim
        must be in the source too ("40×" is not supported by a bare "40"); a bare claim may match a
        number with a unit ("79.8" is supported by "79.8%")."""
        return self.value == other.value and (self.unit == other.unit or not self.unit)


def _canonical(value: str) -> str:
    value = value.replace(",", "").replace("−", "-")
    if "e" in value.lower():
        try:
            return repr(float(value))
        except ValueError:
            return value
    if "." in value:
        value = value.rstrip("0").rstrip(".")
    return value.lstrip("0") or "0"


def extract_numbers(text: str) -> list[Number]:
    """Every number in the text, normalised (4.5x == 4.5×, 45 % == 45%, 1,000 == 1000, 128k == 128K)."""
    return [_number(m) for m in _NUMBER.finditer(text)]


def _number(m: re.Match) -> Number:
    unit = (m.group("unit") or "").upper().replace("X", "×")
    return Number(_canonical(m.group("value")), unit, m.group(0).strip())


# A number glued to a name: after a hyphen, in a word that has a letter before it ("MiMo-7B", "GPT-4o",
# "Qwen2.5-7B", "Llama-3.1-8B-Instruct"; not the 20 of "10-20", nor the 9 of "top-9 experts"), or followed by one
# letter that ends the word ("4o"; "80GB", "12.5Hz" and "a 7B-scale model" keep theirs).
_IN_NAME_BEFORE = re.compile(r"\S*[^\W\d_]\S*-")  # the word's start, up to the number
_TOP = re.compile(r"(?<![^\W\d_])top-$", re.IGNORECASE)  # "top-9", '"top-5"', "top-1/top-5": no name
_IN_NAME_AFTER = re.compile(r"^[^\W\d_](?![\w])")


def query_numbers(text: str) -> list[Number]:
    """The numbers a query asks about: every number but those that are part of a name (the 7B of "MiMo-7B",
    the 4 of "GPT-4o", the 32B of "DeepSeek-R1-Zero-Qwen-32B"), which the name's own matching covers. "Llama 3",
    "the 671B model" and "6.5×" keep theirs."""
    out = []
    for m in _NUMBER.finditer(text):
        start, end = m.start("value"), m.end("unit") if m.group("unit") else m.end("value")
        head = text[:start]  # the number's word up to the number ("MiMo-" of "MiMo-7B"), or ""
        head = "" if not head or head[-1].isspace() else head.split()[-1]
        if not ((_IN_NAME_BEFORE.fullmatch(head) and not _TOP.search(head)) or _IN_NAME_AFTER.match(text[end:])):
            out.append(_number(m))
    return out
