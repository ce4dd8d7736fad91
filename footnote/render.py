"""Human-readable tables for the terminal (results go to stdout)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

stdout = Console(soft_wrap=True)


def ingest_table(report) -> None:
    table = Table(title="ingest", show_lines=False)
    table.add_column("paper")
    table.add_column("result")
    table.add_column("pages", justify="right")
    table.add_column("chunks", justify="right")
    for pid in report.ingested:
        table.add_row(pid, "ingested", str(report.pages.get(pid, "")), str(report.chunks.get(pid, "")))
    for pid in report.skipped:
        table.add_row(pid, "already in the archive", "", "")
    for failure in report.failed:
        table.add_row(failure["source"], f"failed: {failure['error']}", "", "")
    stdout.print(table)
    stdout.print(f"{len(report.ingested)} ingested, {len(report.skipped)} skipped, {len(report.failed)} failed")


def papers_table(records) -> None:
    table = Table(title=f"{len(records)} papers")
    for column in ("id", "title", "pages", "chunks", "ingested"):
        table.add_column(column, justify="right" if column in ("pages", "chunks") else "left")
    for r in records:
        table.add_row(r.id, r.title[:80], str(r.pages), str(r.chunks), (r.ingested_at or "")[:19])
    stdout.print(table)
