"""Which papers a question names: "How does MiMo alleviate sparse rewards for code problems?" is about the MiMo paper.

A question that names a paper's model or method ("MiMo", "MoBA", "Moonlight", "O1 Replication Journey Part 2")
is mostly asking about that paper, and the name is the least useful part of it for finding the passage: it occurs
in most of that paper's chunks, so BM25 over the whole question ranks the chunks that repeat the name most (its
title page, its related work) above the one that answers. A paper is *named* when one of the question's names
(footnote.names), or the longest start of it that does ("Seed1.5-Thinking" of "Seed1.5-Thinking RL"; never cut
between a word and its number: "Part" of "Part 1" would name Part 2), occurs on its title page or in its abstract,
and at most MAX_NAMED papers there hold it: a name that many papers carry in their abstracts ("GPT-4o", "GRPO")
picks none. When only a start of the name routed, the papers whose title holds all of it are preferred ("O1
Replication Journey" names both parts; "O1 Replication Journey Part 1" is the one titled "... - Part 1").
Retrieval then also searches the named papers with the rest of the question (index.retrieve).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from footnote.names import BARE_NUMBER, names
from index.catalog import Catalog

MAX_NAMED = 4


@dataclass(frozen=True)
class Route:
    paper_ids: tuple[str, ...]  # the papers named by the most of the question's names (ties all kept)
    words: frozenset[str]  # the lower-case words of the names that named them

    def rest(self, text: str) -> str:
        """The question without the words of those names ("How does alleviate sparse rewards ..."); a bare
        number stays, even where it is also part of a name ("Llama 3"), for the numbers are what lexical search
        matches best."""
        kept = []
        for token in text.split():
            parts = re.findall(r"[^\W_]+", token.lower())
            if parts and not token.strip("?.,;:!()").isdigit() and all(p in self.words or p == "s" for p in parts):
                continue
            kept.append(token)
        return " ".join(kept)


def route(catalog: Catalog, text: str, allowed: Sequence[str] | None = None) -> Route | None:
    """The papers the text names, among ``allowed`` if given; None when it names none."""
    votes: Counter[str] = Counter()
    words: dict[str, set[str]] = {}
    seen: set[tuple[str, ...]] = set()  # (the start that routed, its papers)
    # Each name votes once: a follow-up carries the earlier question's names, often the same one twice.
    for run in dict.fromkeys(tuple(run) for run in names(text)):
        # The longest start of the name that names a paper: a run can run on past it ("Seed1.5-Thinking RL").
        for n in range(len(run), 0, -1):
            if n < len(run) and BARE_NUMBER.fullmatch(run[n]):
                continue  # a number belongs to the word before it: "Part 1" is not "Part" (of "Part 2")
            phrase = " ".join(run[:n])
            found = catalog.papers_naming(phrase, MAX_NAMED + 1)
            if found and len(found) <= MAX_NAMED:
                break
        else:
            continue
        if n < len(run):  # the run ran on: "O1 Replication Journey Part 1" is the paper whose title says so all
            found = _titled(catalog, run, found) or found
        if (phrase, *found) in seen:
            continue
        seen.add((phrase, *found))
        for paper_id in found:
            if allowed is None or paper_id in allowed:
                votes[paper_id] += 1
                words.setdefault(paper_id, set()).update(re.findall(r"[^\W_]+", phrase.lower()))
    if not votes:
        return None
    most = max(votes.values())
    chosen = tuple(pid for pid, n in votes.most_common() if n == most)[:MAX_NAMED]
    return Route(chosen, frozenset(w for pid in chosen for w in words[pid]))


def _titled(catalog: Catalog, run: Sequence[str], paper_ids: list[str]) -> list[str]:
    """Those of the papers whose title holds every word of the name ("O1 Replication Journey: A Strategic
    Progress Report - Part 1" for "O1 Replication Journey Part 1"; not "... - Part 2")."""
    wanted = {w for token in run for w in re.findall(r"[^\W_]+", token.lower())}
    titles = catalog.titles(paper_ids)
    return [pid for pid in paper_ids if wanted <= set(re.findall(r"[^\W_]+", titles.get(pid, "").lower()))]
