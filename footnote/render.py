"""Human-readable tables for the terminal (results go to stdout)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ingest.ids import is_arxiv_id

stdout = Console(soft_wrap=True)


def ingest_table(report) -> None:
    table = Table(title="ingest", show_lines=False)
    table.add_column("paper")
    table.add_column("result")
    table.add_column("pages", justify="right")
    table.add_column("chunks", justify="right")
    for pid in report.ingested:
        table.add_row(escape(pid), "ingested", str(report.pages.get(pid, "")), str(report.chunks.get(pid, "")))
    for pid in report.skipped:
        table.add_row(escape(pid), "already in the archive", "", "")
    for failure in report.failed:
        table.add_row(escape(failure["source"]), escape(f"failed: {failure['error']}"), "", "")
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
    # Cells are rich markup: a title's "[CLS]" or "[/]" is escaped, or it would vanish (or fail) as a tag.
    table = Table(title=f"{len(records)} paper{'' if len(records) == 1 else 's'}")
    for column in ("id", "title", "pages", "chunks", "ingested"):
        table.add_column(column, justify="right" if column in ("pages", "chunks") else "left")
    for r in records:
        table.add_row(
            escape(r.id), escape(short_title(r.title)), str(r.pages), str(r.chunks), (r.ingested_at or "")[:19]
        )
    stdout.print(table)


def _marked(quote: str, span) -> str:
    if not span:
        return escape(quote)
    start, end = span
    # On a terminal the match is highlighted; piped or redirected, it is wrapped in **…** (Markdown bold).
    marked = f"[bold reverse]{escape(quote[start:end])}[/]" if stdout.is_terminal else f"**{escape(quote[start:end])}**"
    return f"{escape(quote[:start])}{marked}{escape(quote[end:])}"


def matches_text(query: str, matches) -> None:
    if not matches:
        stdout.print(f"No passage in the archive states {query!r}.", markup=False, highlight=False)
        return
    if all(m.numbers_found is False for m in matches):  # none of them holds all of the claim's numbers
        stdout.print(
            f"No passage in the archive states the numbers of {query!r}; the nearest passages:",
            markup=False,
            highlight=False,
        )
    for n, m in enumerate(matches, start=1):
        head = f"{escape(m.paper_id)}[/] p. {m.page} · {escape(m.section)} · score {m.score:.3f}"
        stdout.print(f"[bold]{n}. {head}", highlight=False)
        stdout.print(f"   {m.title}", style="dim", highlight=False, markup=False)
        stdout.print(f"   “{_marked(m.quote, m.span)}”", highlight=False)
        if is_arxiv_id(m.paper_id):  # a PDF ingested from a file ("local-...") has no arXiv page to link to
            stdout.print(f"   https://arxiv.org/pdf/{m.paper_id}#page={m.page}", style="dim", markup=False)


def answer_text(answer) -> None:
    if answer.abstained:
        stdout.print("Not found in the archive.", highlight=False)
        if answer.note:
            stdout.print(f"({escape(answer.note)})", style="dim", highlight=False)
        return
    for s in answer.statements:
        refs = ", ".join(f"{c.paper_id} p. {c.page}" for c in s.citations)
        # The brackets are escaped with the refs: "[local-draft p. 3]" would otherwise be read as a markup tag.
        stdout.print(f"- {escape(s.text)} [dim]{escape(f'[{refs}]')}[/]", highlight=False)
    if answer.note:
        stdout.print(f"({escape(answer.note)})", style="dim", highlight=False)
