"""Digest → Markdown, one format for every paper. Text from papers is escaped so it renders inert."""

from __future__ import annotations

import html
import json
import os
import re
import tempfile
from pathlib import Path

from footnote.types import Statement
from ingest.ids import is_arxiv_id
from summarize.digest import Digest, PaperDigest, SectionResult
from summarize.sections import LABEL_TITLES, NOT_STATED

_MD_SPECIAL = re.compile(r"([\\`*_\[\]{}#|~!])")

TEXT = {
    "ko": {
        "heading": "footnote 데일리 다이제스트",
        "generator": "생성기",
        "papers": "논문",
        "ok": "성공",
        "failed": "실패",
        "extractive_note": "추출 요약: 각 문장은 논문 원문(영어)을 그대로 인용하며, "
        "인용 링크는 해당 페이지로 연결됩니다.",
        "llm_note": "LLM 요약: 모든 문장은 인용된 구절과 대조해 검증되었고, 수치가 구절에 없으면 제외되었습니다.",
        "status_failed": "상태: 실패",
        "abstract_only": "초록 (일일 목록의 초록만 있음, 본문 미확인)",
        "grounding": "근거",
        "statements": "문장",
        "citations": "인용",
        "numbers": "수치 검증",
        "dropped": "검증 실패로 제외",
        "fallback": "참고",
        "warning": "경고",
    },
    "en": {
        "heading": "footnote daily digest",
        "generator": "generator",
        "papers": "papers",
        "ok": "ok",
        "failed": "failed",
        "extractive_note": "Extractive digest: every statement is quoted verbatim from the paper; links open the page.",
        "llm_note": "LLM digest: every statement was checked against its cited passages; "
        "unverifiable ones were dropped.",
        "status_failed": "Status: failed",
        "abstract_only": "Abstract (from the daily list only; the paper itself was not read)",
        "grounding": "grounding",
        "statements": "statements",
        "citations": "citations",
        "numbers": "numbers verified",
        "dropped": "dropped by verification",
        "fallback": "note",
        "warning": "warning",
    },
}


def inert(text: str) -> str:
    """Escape text from a paper so Markdown and HTML treat it as plain text."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(" ".join(text.split()), quote=False))


def _cites(statement: Statement) -> str:
    seen, links = set(), []
    for c in statement.citations:
        if (c.paper_id, c.page) in seen:
            continue
        seen.add((c.paper_id, c.page))
        if not is_arxiv_id(c.paper_id):
            links.append(f"p. {c.page}")
        else:
            links.append(f"[p. {c.page}](https://arxiv.org/pdf/{c.paper_id}#page={c.page})")
    return ", ".join(links)


def _statement_lines(statement: Statement, show_quotes: bool) -> list[str]:
    lines = [f"- {inert(statement.text)} — {_cites(statement)}"]
    if show_quotes:
        for c in statement.citations:
            lines.append(f"  > p. {c.page}: “{inert(c.quote)}”")
    return lines


def _section(section: SectionResult, lang: str, show_quotes: bool) -> list[str]:
    t = TEXT[lang]
    lines = [f"### {section.title}", ""]
    if section.key == "setup":
        for label, label_title in LABEL_TITLES[lang].items():
            items = [s for s in section.statements if s.label == label]
            if not items:
                lines.append(f"- **{label_title}**: {NOT_STATED[lang]}")
                continue
            lines.append(f"- **{label_title}**")
            for s in items:
                lines.extend("  " + line for line in _statement_lines(s, show_quotes))
    elif not section.statements:
        lines.append(f"- {NOT_STATED[lang]}")
    else:
        for s in section.statements:
            lines.extend(_statement_lines(s, show_quotes))
    if section.note:
        lines.append(f"- *{t['fallback']}: {inert(section.note)}*")
    lines.append("")
    return lines


def _paper(n: int, paper: PaperDigest, lang: str, show_quotes: bool) -> list[str]:
    t = TEXT[lang]
    lines = [f"## {n}. {inert(paper.title)}", ""]
    meta = []
    if is_arxiv_id(paper.id):
        meta += [
            f"[arXiv {paper.id}](https://arxiv.org/abs/{paper.id})",
            f"[HF](https://huggingface.co/papers/{paper.id})",
            f"[PDF](https://arxiv.org/pdf/{paper.id})",
        ]
    else:
        meta.append(inert(paper.id))
    if paper.upvotes is not None:
        meta.append(f"▲ {paper.upvotes}")
    lines += [" · ".join(meta), ""]
    if paper.warning:
        lines += [f"**{t['warning']}**: {inert(paper.warning)}", ""]
    if paper.status == "failed":
        lines += [f"**{t['status_failed']}**: {inert(paper.error or '')}", ""]
        if paper.abstract:
            lines += [f"**{t['abstract_only']}**: {inert(paper.abstract)}", ""]
        return lines
    for section in paper.sections:
        lines += _section(section, lang, show_quotes)
    g = paper.grounding
    lines += [
        f"*{t['grounding']}: {g.statements} {t['statements']} · {g.citations} {t['citations']} · "
        f"{t['numbers']} {g.numbers_verified}/{g.numbers} · {t['dropped']} {g.dropped}*",
        "",
    ]
    return lines


def to_markdown(digest: Digest) -> str:
    t = TEXT[digest.lang]
    ok = sum(p.status == "ok" for p in digest.papers)
    failed = len(digest.papers) - ok
    lines = [
        f"# {t['heading']} — {digest.date}",
        "",
        f"> {t['generator']}: {digest.generator} · {t['papers']} {len(digest.papers)} "
        f"({t['ok']} {ok}, {t['failed']} {failed})",
        f"> {t['extractive_note'] if digest.generator == 'extractive' else t['llm_note']}",
        "",
    ]
    for n, paper in enumerate(digest.papers, start=1):
        lines += _paper(n, paper, digest.lang, show_quotes=digest.generator == "llm")
        lines += ["---", ""]
    return "\n".join(lines).rstrip() + "\n"


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_digest(digest: Digest, home: Path, out: Path | None = None) -> tuple[Path, Path]:
    """Write the Markdown and JSON files; returns their paths."""
    md_path = out or home / "digests" / f"{digest.date}.{digest.lang}.md"
    json_path = md_path.with_suffix(".json")
    write_atomic(json_path, json.dumps(digest.to_json(), ensure_ascii=False, indent=2) + "\n")
    write_atomic(md_path, to_markdown(digest))
    return md_path, json_path
