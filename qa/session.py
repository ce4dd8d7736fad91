"""Conversations: follow-up questions resolved against earlier turns, stored under HOME/sessions/."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from footnote.errors import FootnoteError
from footnote.text import plain_math
from qa.cite import _names
from summarize.render import write_atomic

if TYPE_CHECKING:
    from index.archive import Archive
    from qa.ask import Answer

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_FOLLOW_UP = re.compile(
    r"^(and|but|what about|how about|how does (that|it|this)|compared|vs\.?|does (it|that|this)|is (it|that|this)|"
    r"why|what else|then)\b|\b(that|it|this|they|them|those|these)\b",
    re.IGNORECASE,
)
_CAPITALISED = re.compile(r"\b[A-Z][A-Za-z0-9]*(?:[-.][A-Za-z0-9]+)*\b")


@dataclass
class Turn:
    question: str
    query: str
    answer: str
    papers: list[str] = field(default_factory=list)


@dataclass
class Session:
    name: str
    turns: list[Turn] = field(default_factory=list)

    def history(self) -> list[tuple[str, str]]:
        return [(t.question, t.answer) for t in self.turns]


def session_path(home: Path, name: str) -> Path:
    if not _NAME.fullmatch(name):
        raise FootnoteError(f"{name!r}: not a session name (letters, digits, '_', '-', '.'; at most 64)")
    return home / "sessions" / f"{name}.json"


def load(home: Path, name: str) -> Session:
    path = session_path(home, name)
    if not path.exists():
        return Session(name)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Session(name, [Turn(**t) for t in data.get("turns", [])])
    except (ValueError, TypeError) as exc:
        raise FootnoteError(f"{path}: unreadable session file ({exc})") from None


def save(home: Path, session: Session) -> None:
    data = {"name": session.name, "turns": [asdict(t) for t in session.turns]}
    write_atomic(session_path(home, session.name), json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def entities(text: str) -> list[str]:
    """Names worth carrying into a follow-up: model/benchmark names and capitalised terms."""
    found = _names(text) + [w for w in _CAPITALISED.findall(text) if len(w) > 2]
    stop = {"What", "How", "Which", "Does", "Did", "And", "The", "Why", "When", "Where", "Who", "Compare", "Is"}
    return list(dict.fromkeys(w for w in found if w not in stop))


def resolve_offline(question: str, session: Session) -> str:
    """Without an LLM: a follow-up inherits the earlier question's entities (and its topic words)."""
    if not session.turns or not _FOLLOW_UP.search(question):
        return question
    previous = session.turns[-1]
    carried = [e for e in entities(previous.query) if e.lower() not in question.lower()]
    return f"{question} {previous.query}" if not carried else f"{question} {' '.join(carried)} {previous.query}"


def standalone_query(question: str, session: Session | None, llm=None) -> str:
    """What to search for: a follow-up rewritten to stand alone (by the LLM, else with the earlier question's
    entities carried over), and with an LLM a question in another language rewritten into English."""
    if session is not None and session.turns:
        return llm.rewrite_query(question, session.history()) if llm else resolve_offline(question, session)
    if llm is not None and not plain_math(question).isascii():  # math letters pasted from a PDF are English
        return llm.rewrite_query(question, [])  # e.g. a Korean question over English papers
    return question


def ask_in_session(
    archive: Archive,
    question: str,
    session_name: str | None = None,
    *,
    k: int | None = None,
    paper_ids: Sequence[str] | None = None,
    since: str | None = None,
    until: str | None = None,
    llm=None,
) -> Answer:
    """`ask`, as one turn of the named conversation (stored under HOME/sessions/) when a name is given."""
    from qa.ask import ask

    session = load(archive.home, session_name) if session_name else None
    query = standalone_query(question, session, llm)
    # resolved against earlier turns (a translation alone, or a question that needed nothing, is not a follow-up)
    follow_up = bool(session and session.turns and query != question)
    answer = ask(
        archive, question, query=query, k=k, paper_ids=paper_ids, since=since, until=until, llm=llm, follow_up=follow_up
    )
    if session is not None:
        papers = sorted({c.paper_id for s in answer.statements for c in s.citations})
        session.turns.append(Turn(question, query, answer.text, papers))
        save(archive.home, session)
    return answer
