"""Human-readable tables for the terminal (results go to stdout).

What the papers and the user wrote goes in as rich ``Text``, never as markup: a title's "[CLS]", an id like
"[local-draft p. 3]" or a trailing backslash is printed as it is (markup would read the first two as tags, and
``rich.markup.escape`` doubles the last)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ingest.ids import is_arxiv_id
from ingest.version import TEXT_VERSION

stdout = Console(soft_wrap=True)


def ingest_table(report) -> None:
    table = Table(title="ingest", show_lines=False)
    table.add_column("paper")
    table.add_column("result")
    table.add_column("pages", justify="right")
    table.add_column("chunks", justify="right")
    for pid in report.ingested:
        table.add_row(Text(pid), "ingested", str(report.pages.get(pid, "")), str(report.chunks.get(pid, "")))
    for pid in report.skipped:
        table.add_row(Text(pid), "already in the archive", "", "")
    for failure in report.failed:
        table.add_row(Text(failure["source"]), Text(f"failed: {failure['error']}"), "", "")
    stdout.print(table)
    stdout.print(f"{len(report.ingested)} ingested, {len(report.skipped)} skipped, {len(report.failed)} failed")


TITLE_CHARS = 80  # a longer title is cut at a word, with "…"


def short_title(title: str, limit: int = TITLE_CHARS) -> str:
    """The title, or its first words within ``limit`` characters and "…"."""
    if len(title) <= limit:
        return title
    cut = title[: limit - 1].rsplit(" ", 1)[0] if " " in title[: limit - 1] else title[: limit - 1]
    return cut.rstrip(" ,:;–-") + "…"


def papers_table(records) -> None:
    table = Table(title=f"{len(records)} paper{'' if len(records) == 1 else 's'}")
    for column in ("id", "title", "pages", "chunks", "ingested"):
        table.add_column(column, justify="right" if column in ("pages", "chunks") else "left")
    for r in records:
        table.add_row(Text(r.id), Text(short_title(r.title)), str(r.pages), str(r.chunks), (r.ingested_at or "")[:19])
    stdout.print(table)
    for r in records:
        if r.warning:
            stdout.print(Text(f"warning: {r.id}: {r.warning}"))
    older = [r.id for r in records if r.parser != TEXT_VERSION]
    if older:
        stdout.print(
            Text(
                f"{len(older)} of {len(records)} papers were read by an older footnote; ingest their PDFs again to "
                f"read them with this one ({', '.join(older[:5])}{', ...' if len(older) > 5 else ''})"
            )
        )


def _marked(quote: str, span) -> Text:
    if not span:
        return Text(quote)
    start, end = span
    # On a terminal the match is highlighted; piped or redirected, it is wrapped in **…** (Markdown bold).
    if stdout.is_terminal:
        return Text.assemble(quote[:start], (quote[start:end], "bold reverse"), quote[end:])
    return Text(f"{quote[:start]}**{quote[start:end]}**{quote[end:]}")


def matches_text(query: str, matches, unknown_names: Sequence[str] = (), searched: bool = False) -> None:
    """cite's matches; ``unknown_names``: the claim's names that no paper in the archive (``searched``: of the
    papers given with --paper) mentions, said first."""
    if not matches:
        stdout.print(Text(f"No passage in the archive states {query!r}."))
        return
    warnings = []
    if unknown_names:
        names = " or ".join(repr(name) for name in unknown_names)
        where = "None of the papers searched mentions" if searched else "No paper in the archive mentions"
        warnings.append(f"{where} {names}")
    if all(m.numbers_found is False for m in matches):  # none of them holds all of the claim's numbers
        where = "of the papers searched" if searched else "in the archive"
        warnings.append(f"No passage {where} states the numbers of {query!r}")
    for n, warning in enumerate(warnings, start=1):
        stdout.print(Text(warning + ("; the nearest passages:" if n == len(warnings) else ".")))
    for n, m in enumerate(matches, start=1):
        stdout.print(Text.assemble((f"{n}. {m.paper_id}", "bold"), f" p. {m.page} · {m.section} · score {m.score:.3f}"))
        stdout.print(Text(f"   {m.title}", style="dim"))
        stdout.print(Text.assemble("   “", _marked(m.quote, m.span), "”"))
        if is_arxiv_id(m.paper_id):  # a PDF ingested from a file ("local-...") has no arXiv page to link to
            stdout.print(Text(f"   https://arxiv.org/pdf/{m.paper_id}#page={m.page}", style="dim"))


def answer_text(answer) -> None:
    if answer.abstained:
        stdout.print(Text("Not found in the archive."))
        if answer.note:
            stdout.print(Text(f"({answer.note})", style="dim"))
        return
    for s in answer.statements:
        refs = ", ".join(f"{c.paper_id} p. {c.page}" for c in s.citations)
        stdout.print(Text.assemble(f"- {s.text} ", (f"[{refs}]", "dim")))
    if answer.note:
        stdout.print(Text(f"({answer.note})", style="dim"))
