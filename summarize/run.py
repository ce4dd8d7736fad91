"""`footnote digest` as a library call: gather the day's papers, ingest what is missing, digest, write."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from footnote.errors import FootnoteError
from footnote.types import DailyEntry
from index.archive import Archive
from ingest.pipeline import ingest
from ingest.sources import Source, resolve
from summarize.digest import Digest, build_digest
from summarize.render import write_digest


@dataclass
class DigestRun:
    digest: Digest
    home: Path
    usage: dict[str, list[int]]
    notes: list[str] = field(default_factory=list)  # the ingest's lines for the user ("ID: read again ...")

    def write(self, out: Path | None = None) -> tuple[Path, Path]:
        return write_digest(self.digest, self.home, out)


def choose_generator(archive: Archive, generator: str | None) -> str:
    configured = archive.settings.llm.configured
    if generator is None:
        return "llm" if configured else "extractive"
    if generator == "llm" and not configured:
        raise FootnoteError(
            "--generator llm: no LLM endpoint configured "
            "(set FOOTNOTE_LLM_BASE_URL and FOOTNOTE_LLM_MODEL, or OPENAI_API_KEY)"
        )
    return generator


def run_digest(
    day: str,
    archive: Archive,
    *,
    sources: list[str] | None = None,
    lang: str = "ko",
    generator: str | None = None,
    progress=None,
) -> DigestRun:
    generator = choose_generator(archive, generator)
    entries: dict[str, DailyEntry] = {}
    errors: dict[str, str] = {}
    ids: list[str] = []
    items: list[Source | str] = []
    if sources is None:
        from ingest.daily import fetch_daily

        for entry in fetch_daily(day, archive.settings.ingest):
            entries[entry.id] = entry
            ids.append(entry.id)
            items.append(entry.id if entry.version is None else f"{entry.id}v{entry.version}")
    else:
        for source in sources:
            try:
                resolved = resolve(source)
            except FootnoteError as exc:
                ids.append(source)
                errors[source] = str(exc)
                continue
            for item in resolved:
                ids.append(item.paper_id)
                items.append(item)
    ids = list(dict.fromkeys(ids))
    notes: list[str] = []
    if items:
        report = ingest(items, archive, entries=entries, day=day if sources is None else None, progress=progress)
        errors.update(report.errors_by_id)
        ids = list(dict.fromkeys(report.same_as.get(i, i) for i in ids))  # a copy of a paper is that paper
        notes = report.notes
    llm = None
    if generator == "llm":
        from footnote.llm import LLMClient
        from summarize.llm_gen import LLMDrafter

        llm = LLMDrafter(LLMClient(archive.settings.llm))
    digest = build_digest(
        day, archive, ids, lang=lang, generator=generator, entries=entries, errors=errors, llm=llm, progress=progress
    )
    return DigestRun(digest, archive.home, llm.usage_by_paper if llm else {}, notes)
