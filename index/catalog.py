"""The archive catalog: papers, page texts, chunks and the lexical (BM25) index, in one SQLite file.

SQLite's FTS5 gives a real BM25 ranking that lives in the same transaction as the catalog, so
the lexical index can never disagree with what the catalog counts as ingested: a paper's
pages, chunks and lexical rows are written, and the paper marked complete, in one commit.
"""

from __future__ import annotations

import functools
import json
import re
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from footnote.types import Chunk, Paper

# How the lexical index splits and stems text (also used to rank an answer's candidate sentences, qa.select).
FTS_TOKENIZE = "porter unicode61 remove_diacritics 2"
NAME_KINDS = ("front", "abstract")  # the chunks that name a paper's own models and methods (names_fts)
NAME_KINDS_SQL = "(" + ", ".join(f"'{kind}'" for kind in NAME_KINDS) + ")"
NAMES_FTS_KEY = "names_fts"  # meta: names_fts holds every title-page and abstract chunk

SCHEMA = """
CREATE TABLE IF NOT EXISTS papers (
    id TEXT PRIMARY KEY,
    version INTEGER,
    title TEXT NOT NULL,
    authors TEXT NOT NULL DEFAULT '[]',
    abstract TEXT NOT NULL DEFAULT '',
    source_url TEXT NOT NULL DEFAULT '',
    sha256 TEXT NOT NULL,
    pages INTEGER NOT NULL DEFAULT 0,
    chunks INTEGER NOT NULL DEFAULT 0,
    sections TEXT NOT NULL DEFAULT '[]',
    published TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'complete')),
    ingested_at TEXT,
    warning TEXT NOT NULL DEFAULT '',
    parser TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS pages (
    paper_id TEXT NOT NULL,
    page INTEGER NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (paper_id, page)
);
CREATE TABLE IF NOT EXISTS chunks (
    n INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    paper_id TEXT NOT NULL,
    page_start INTEGER NOT NULL,
    page_end INTEGER NOT NULL,
    section TEXT NOT NULL,
    kind TEXT NOT NULL,
    char_start INTEGER NOT NULL,
    char_end INTEGER NOT NULL,
    text TEXT NOT NULL,
    sentences TEXT
);
CREATE INDEX IF NOT EXISTS chunks_paper ON chunks (paper_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    text, section, content='chunks', content_rowid='n', tokenize='{tokenize}'
);
-- The title-page and abstract chunks again, alone: which papers a name names (index.route) is asked of this small
-- index, so that a name common in body text ("AdamW", "Table 3") costs no more than a rare one.
CREATE VIRTUAL TABLE IF NOT EXISTS names_fts USING fts5(
    text, content='chunks', content_rowid='n', tokenize='{tokenize}'
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
""".replace("{tokenize}", FTS_TOKENIZE)


@dataclass(frozen=True)
class PaperRecord:
    """A paper row as `footnote papers` shows it."""

    id: str
    version: int | None
    title: str
    authors: tuple[str, ...]
    abstract: str
    source_url: str
    sha256: str
    pages: int
    chunks: int
    sections: tuple[str, ...]
    published: str | None
    status: str
    ingested_at: str | None
    warning: str = ""  # what could not be read of a damaged PDF ("damaged PDF, repaired by MuPDF; ...")
    parser: str = ""  # the ingest.version.TEXT_VERSION its text was read with ('' for a home from before)

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "pages": self.pages,
            "chunks": self.chunks,
            "sections": list(self.sections),
            "ingested_at": self.ingested_at,
            "warning": self.warning or None,
            "text_version": self.parser or None,
        }


# Columns of papers added after homes existed (ALTER TABLE appends them); rows are read by name (PAPER_COLUMNS), so
# their place in a home does not matter.
PAPER_COLUMNS_ADDED = ("warning", "parser")
PAPER_COLUMNS = (
    "id, version, title, authors, abstract, source_url, sha256, pages, chunks, sections, published, status, "
    "ingested_at, warning, parser"
)


class Catalog:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(chunks)")}
        if "sentences" not in columns:  # a home from before sentence spans were stored: they are split on read
            self._db.execute("ALTER TABLE chunks ADD COLUMN sentences TEXT")
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(papers)")}
        for column in PAPER_COLUMNS_ADDED:  # a home from before they were recorded: '' for its papers
            if column not in columns:
                try:
                    self._db.execute(f"ALTER TABLE papers ADD COLUMN {column} TEXT NOT NULL DEFAULT ''")
                except sqlite3.OperationalError as exc:
                    if "duplicate column" not in str(exc):  # not another process adding it meanwhile
                        raise
        if self.meta(NAMES_FTS_KEY) is None:  # a home from before names_fts: index its title pages and abstracts
            with self._tx() as db:  # (looked at again inside the write lock: two processes may open it at once)
                if self.meta(NAMES_FTS_KEY) is None:
                    db.execute(
                        f"INSERT INTO names_fts (rowid, text) SELECT n, text FROM chunks WHERE kind IN {NAME_KINDS_SQL}"
                    )
                    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, '1')", (NAMES_FTS_KEY,))
        self._df: dict[str, float] = {}  # query term -> estimated share of chunks holding it (row budget)
        self._df_at: int | None = None  # the largest rowid when those were estimated

    def close(self) -> None:
        self._db.close()
        if "_reader" in self.__dict__:
            self._reader.close()

    @functools.cached_property
    def _reader(self) -> sqlite3.Connection:
        """A second connection, for reads from other threads (the dense side of a search): one connection runs
        one statement at a time, so sharing it would make the dense side wait for the lexical one."""
        return sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)

    def chunk_filters(self, ids: Sequence[str]) -> dict[str, dict[str, str]]:
        """Each known chunk's {"paper_id", "kind"}, what searches filter on; unknown ids are left out."""
        sql = "SELECT id, paper_id, kind FROM chunks WHERE id IN ({marks})"
        return {cid: {"paper_id": pid, "kind": kind} for cid, pid, kind in _in_batches(self._reader, sql, ids)}

    # ------------------------------------------------------------ writes

    def begin_paper(self, paper: Paper, published: str | None) -> None:
        """Mark a paper pending and drop whatever an earlier version left (one transaction)."""
        with self._tx() as db:
            self._delete_rows(db, paper.id)
            db.execute(
                "INSERT OR REPLACE INTO papers (id, version, title, authors, abstract, source_url, sha256, pages, "
                "published, status) VALUES (?,?,?,?,?,?,?,?,?, 'pending')",
                (
                    paper.id,
                    paper.version,
                    paper.title,
                    json.dumps(list(paper.authors)),
                    paper.abstract,
                    paper.source_url,
                    paper.sha256,
                    paper.pages,
                    published,
                ),
            )

    def complete_paper(
        self,
        paper_id: str,
        pages: Sequence[str],
        chunks: Sequence[Chunk],
        sections: Sequence[str],
        *,
        warning: str = "",
        parser: str = "",
    ) -> None:
        """Write pages, chunks and lexical rows and mark the paper complete, all in one commit."""
        with self._tx() as db:
            self._delete_rows(db, paper_id)
            db.executemany(
                "INSERT INTO pages (paper_id, page, text) VALUES (?,?,?)",
                [(paper_id, i, text) for i, text in enumerate(pages, start=1)],
            )
            for c in chunks:
                cur = db.execute(
                    "INSERT INTO chunks (id, paper_id, page_start, page_end, section, kind, char_start, char_end, "
                    "text, sentences) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (
                        c.id,
                        c.paper_id,
                        c.page_start,
                        c.page_end,
                        c.section,
                        c.kind,
                        c.char_start,
                        c.char_end,
                        c.text,
                        None if c.sentences is None else json.dumps(c.sentences, separators=(",", ":")),
                    ),
                )
                db.execute(
                    "INSERT INTO chunks_fts (rowid, text, section) VALUES (?,?,?)", (cur.lastrowid, c.text, c.section)
                )
                if c.kind in NAME_KINDS:
                    db.execute("INSERT INTO names_fts (rowid, text) VALUES (?,?)", (cur.lastrowid, c.text))
            db.execute(
                "UPDATE papers SET status='complete', chunks=?, sections=?, ingested_at=?, warning=?, parser=? "
                "WHERE id=?",
                (
                    len(chunks),
                    json.dumps(list(sections)),
                    datetime.now(UTC).isoformat(timespec="seconds"),
                    warning,
                    parser,
                    paper_id,
                ),
            )

    def remove_paper(self, paper_id: str) -> None:
        with self._tx() as db:
            self._delete_rows(db, paper_id)
            db.execute("DELETE FROM papers WHERE id=?", (paper_id,))

    def _delete_rows(self, db: sqlite3.Connection, paper_id: str) -> None:
        db.execute(
            "INSERT INTO chunks_fts (chunks_fts, rowid, text, section) "
            "SELECT 'delete', n, text, section FROM chunks WHERE paper_id=?",
            (paper_id,),
        )
        db.execute(
            "INSERT INTO names_fts (names_fts, rowid, text) "
            f"SELECT 'delete', n, text FROM chunks WHERE paper_id=? AND kind IN {NAME_KINDS_SQL}",
            (paper_id,),
        )
        db.execute("DELETE FROM chunks WHERE paper_id=?", (paper_id,))
        db.execute("DELETE FROM pages WHERE paper_id=?", (paper_id,))

    def _tx(self):
        return _Transaction(self._db)

    # ------------------------------------------------------------ reads

    def paper(self, paper_id: str) -> PaperRecord | None:
        row = self._db.execute(f"SELECT {PAPER_COLUMNS} FROM papers WHERE id=?", (paper_id,)).fetchone()
        return _record(row) if row else None

    def paper_with_sha(self, sha256: str) -> str | None:
        """The id of a complete paper made from exactly these bytes, if there is one."""
        row = self._db.execute(
            "SELECT id FROM papers WHERE sha256=? AND status='complete' ORDER BY id LIMIT 1", (sha256,)
        ).fetchone()
        return row[0] if row else None

    def papers(self, *, complete_only: bool = True) -> list[PaperRecord]:
        where = " WHERE status='complete'" if complete_only else ""
        sql = f"SELECT {PAPER_COLUMNS} FROM papers{where} ORDER BY id"
        return [_record(row) for row in self._db.execute(sql)]

    def chunk_ids(self, paper_ids: Sequence[str]) -> list[str]:
        """Ids of the chunks of these papers."""
        return [r[0] for r in _in_batches(self._db, "SELECT id FROM chunks WHERE paper_id IN ({marks})", paper_ids)]

    def titles(self, paper_ids: Iterable[str]) -> dict[str, str]:
        """Titles of these papers (those the catalog holds), without loading every paper row."""
        ids = list(dict.fromkeys(paper_ids))
        return dict(_in_batches(self._db, "SELECT id, title FROM papers WHERE id IN ({marks})", ids))

    def complete_ids(
        self, paper_ids: Sequence[str] | None = None, since: str | None = None, until: str | None = None
    ) -> list[str]:
        """Ids of complete papers, among ``paper_ids`` if given, filed between since and until (inclusive)."""
        where, args = ["status='complete'"], []
        if paper_ids is not None:
            if not paper_ids:
                return []
            where.append(f"id IN ({','.join('?' * len(paper_ids))})")
            args.extend(paper_ids)
        if since or until:
            where.append("published IS NOT NULL AND substr(published, 1, 10) BETWEEN ? AND ?")
            args.extend([since or "0000-00-00", until or "9999-99-99"])
        return [r[0] for r in self._db.execute(f"SELECT id FROM papers WHERE {' AND '.join(where)} ORDER BY id", args)]

    def pending_ids(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT id FROM papers WHERE status='pending'")]

    def page_text(self, paper_id: str, page: int) -> str | None:
        row = self._db.execute("SELECT text FROM pages WHERE paper_id=? AND page=?", (paper_id, page)).fetchone()
        return row[0] if row else None

    def page_offsets(self, paper_id: str) -> list[int]:
        """Start offset of each page in the paper's text (its pages joined by "\\n")."""
        offsets, pos = [], 0
        for (length,) in self._db.execute("SELECT length(text) FROM pages WHERE paper_id=? ORDER BY page", (paper_id,)):
            offsets.append(pos)
            pos += length + 1
        return offsets

    def chunks(self, ids: Iterable[str]) -> dict[str, Chunk]:
        sql = f"SELECT {_CHUNK_COLS} FROM chunks WHERE id IN ({{marks}})"
        return {row[0]: _chunk(row) for row in _in_batches(self._db, sql, list(ids))}

    def chunks_of(self, paper_id: str) -> list[Chunk]:
        sql = f"SELECT {_CHUNK_COLS} FROM chunks WHERE paper_id=? ORDER BY char_start"
        return [_chunk(row) for row in self._db.execute(sql, (paper_id,))]

    def meta(self, key: str) -> str | None:
        """A value stored about the archive as a whole (such as the embedding model of its vectors)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = ?", (key, value, value)
        )

    def has_papers(self) -> bool:
        """Whether any paper, complete or pending, is in the catalog."""
        return self._db.execute("SELECT 1 FROM papers LIMIT 1").fetchone() is not None

    def chunk_count(self) -> int:
        return self._db.execute("SELECT count(*) FROM chunks").fetchone()[0]

    def has_phrase(self, phrase: str, chunk_ids: Sequence[str]) -> bool:
        """Whether one of the chunks holds ``phrase``, as the lexical index tokenizes and stems it."""
        return self._any_match("chunks_fts", phrase, "id", chunk_ids)

    def mentions_anywhere(self, phrase: str, *, paper_ids: Sequence[str] | None = None) -> bool:
        """Whether any chunk (of ``paper_ids``, if given) holds ``phrase`` (as the lexical index tokenizes and stems
        it). FTS5 stops at the first match, so a phrase many chunks hold costs little; one no chunk holds costs a
        look at the chunks that hold all of its words."""
        if paper_ids is not None:
            return self._any_match("chunks_fts", phrase, "paper_id", paper_ids)
        match = _fts_phrase(phrase)
        if match is None:
            return False
        return (
            self._db.execute("SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT 1", [match]).fetchone()
            is not None
        )

    def numbers_after(self, word: str, *, paper_ids: Sequence[str] | None = None, sample: int = 200) -> Counter[str]:
        """The numbers that chunks (of ``paper_ids``, if given) write straight after ``word``, each with how often:
        a name's versions ("Llama 3", "LLaMA-2", "Qwen2.5", "MiniMax-M1", "Kimi k1.5", "AIME 2024") and values said
        of it ("MT-Bench 6.3"); not sizes ("Llama-8B"). Read from the first ``sample`` chunks that hold a word
        beginning with it ("qwen2" begins with "qwen"), so that a word in many chunks costs a bounded look."""
        match = _fts_phrase(word)
        if match is None or (paper_ids is not None and not paper_ids):
            return Counter()
        parts = re.findall(r"[^\W_]+", word)
        after = re.compile(
            r"(?<![^\W_])"
            + r"[\W_]*".join(map(re.escape, parts))
            + r"[ \-]?(?:[a-z](?=\d))?(\d+(?:\.\d+)?)(?!\.?\d|,\d|[bkmt]\b)",
            re.IGNORECASE,
        )
        where, args = "chunks_fts MATCH ?", [match + " *"]
        if paper_ids is not None:
            where += f" AND c.paper_id IN ({','.join('?' * len(paper_ids))})"
            args += list(paper_ids)
        sql = f"SELECT c.text FROM chunks_fts JOIN chunks c ON c.n = chunks_fts.rowid WHERE {where} LIMIT ?"
        return Counter(number for (text,) in self._db.execute(sql, [*args, sample]) for number in after.findall(text))

    def papers_naming(self, phrase: str, limit: int) -> list[str]:
        """Up to ``limit`` complete papers whose title page or abstract holds ``phrase`` (as the lexical index
        tokenizes and stems it). Asked of names_fts, which holds only those chunks (two to four a paper), and
        only the first matches are read: a phrase that many papers name stops the scan at ``limit``."""
        match = _fts_phrase(phrase)
        if match is None or limit < 1:
            return []
        sql = (
            "SELECT DISTINCT c.paper_id FROM names_fts JOIN chunks c ON c.n = names_fts.rowid "
            "WHERE names_fts MATCH ? LIMIT ?"
        )
        return [row[0] for row in self._db.execute(sql, [match, limit])]

    def names_any(self, phrase: str, paper_ids: Sequence[str], prefix: bool = False) -> bool:
        """Whether ``phrase`` occurs on the title page or in the abstract of one of these papers. With ``prefix``,
        the phrase may instead begin a longer word that goes on with a capital or a digit, as a lab's name begins
        its handle ("Moonshot" of "MoonshotAI"; not "Vision" of "visionary", nor "Reinforce" of an upper-case
        "REINFORCEMENT")."""
        if not prefix:
            return self._any_match("names_fts", phrase, "paper_id", paper_ids)
        match = _fts_phrase(phrase)
        if match is None or not paper_ids:
            return False
        # FTS5 finds the candidates by prefix (of the stemmed word: "rouge"* also finds "rough"); the text decides
        begins = re.compile(r"(?i:(?<![^\W_])" + re.escape(phrase) + r")(?=[A-Z0-9])")
        sql = (
            "SELECT c.text FROM names_fts JOIN chunks c ON c.n = names_fts.rowid WHERE names_fts MATCH ? "
            f"AND c.paper_id IN ({','.join('?' * len(paper_ids))})"
        )
        rows = self._db.execute(sql, [match + "*", *paper_ids])
        # in lower case where the phrase is: in "SCALING REINFORCEMENT" a capital goes on every word
        return any(not m.group().isupper() for (text,) in rows for m in begins.finditer(text))

    def _any_match(self, index: str, phrase: str, column: str, values: Sequence[str]) -> bool:
        """Whether the FTS5 ``index`` (chunks_fts or names_fts) matches ``phrase`` in one of the chunks whose
        ``column`` is one of ``values``."""
        match = _fts_phrase(phrase)
        if match is None or not values:
            return False
        sql = (
            f"SELECT 1 FROM {index} WHERE {index} MATCH ? AND rowid IN "
            f"(SELECT n FROM chunks WHERE {column} IN ({','.join('?' * len(values))})) LIMIT 1"
        )
        return self._db.execute(sql, [match, *values]).fetchone() is not None

    # BM25 scores every chunk that holds any query term, so an OR of the query's words costs time in proportion
    # to the chunks holding them: at 1M chunks, hundreds of thousands of rows and most of a second. When a
    # query's terms together hold more (estimated) rows than this budget, the query becomes "at least two of
    # its three rarest terms" instead, (a AND b) OR (a AND c) OR (b AND c): FTS5 intersects those cheaply
    # and scores only the chunks in the intersections. Archives smaller than the budget (the 19-paper corpus
    # has 2,616 chunks) are always searched with every term, as before.
    LEXICAL_ROW_BUDGET = 10_000
    LEXICAL_ANCHORS = 3  # the rarest terms that the pairs are made of
    LEXICAL_ENOUGH = 10  # pairs finding fewer chunks than this are topped up by the rarest terms alone
    # Paper filters this small are searched paper by paper, each over its chunks' rowid range.
    SELECTIVE_PAPERS = 32
    _SAMPLE = 5_000  # rowids per sample window when estimating how many chunks hold a term

    def lexical_search(
        self,
        query: str,
        k: int,
        *,
        paper_ids: Sequence[str] | None = None,
        exclude_kinds: Sequence[str] = ("references",),
        include_kinds: Sequence[str] | None = None,
        pairs: bool = False,
    ) -> list[tuple[str, float]]:
        """(chunk id, BM25 score, higher is better) for the best ``k`` chunks (``pairs``: see fts_terms)."""
        terms = fts_terms(query, pairs=pairs)
        if not terms or (paper_ids is not None and not paper_ids):
            return []
        where, args = [], []
        if exclude_kinds:
            where.append(f"c.kind NOT IN ({','.join('?' * len(exclude_kinds))})")
            args.extend(exclude_kinds)
        if include_kinds:
            where.append(f"c.kind IN ({','.join('?' * len(include_kinds))})")
            args.extend(include_kinds)
        if paper_ids is not None and len(paper_ids) <= self.SELECTIVE_PAPERS:
            return self._lexical_papers(" OR ".join(terms), k, paper_ids, where, args)
        if paper_ids is not None:
            where.append(f"c.paper_id IN ({','.join('?' * len(paper_ids))})")
            args.extend(paper_ids)
        found: dict[str, float] = {}
        for match, weight, fills in self._lexical_plan(terms):
            for cid, score in self._bm25(match, k, where, args):
                found.setdefault(cid, -score / weight)
            if len(found) >= (k if fills else min(k, self.LEXICAL_ENOUGH)):
                break
        return list(found.items())[:k]

    def _bm25(self, match: str, k: int, where: list[str], args: list) -> list[tuple[str, float]]:
        """(chunk id, bm25) of the best k matches of an FTS5 expression that pass the filters, best first."""
        where_sql = " AND ".join(where) or "1"
        with closing(self._db.cursor()) as cur:
            # The best 4k from the FTS index alone first: joining every match to the chunks table to test its
            # kind costs more than scoring it. Only when too few of those pass is every match joined.
            sql = (
                "SELECT c.id, s.score FROM (SELECT rowid, bm25(chunks_fts, 1.0, 0.3) AS score FROM chunks_fts "
                f"WHERE chunks_fts MATCH ? ORDER BY score LIMIT ?) s JOIN chunks c ON c.n = s.rowid WHERE {where_sql} "
                "ORDER BY s.score LIMIT ?"
            )
            hits = cur.execute(sql, [match, 4 * k, *args, k]).fetchall()
            if len(hits) < k and where:  # without a filter, fewer than k means fewer matches
                sql = (
                    "SELECT c.id, bm25(chunks_fts, 1.0, 0.3) AS score FROM chunks_fts JOIN chunks c ON c.n = "
                    f"chunks_fts.rowid WHERE chunks_fts MATCH ? AND {where_sql} ORDER BY score LIMIT ?"
                )
                hits = cur.execute(sql, [match, *args, k]).fetchall()
            return hits

    def _lexical_plan(self, terms: list[str]) -> list[tuple[str, float, bool]]:
        """The FTS5 expressions to run in turn, each with what its bm25 is divided by and whether it must find
        all k chunks by itself to end the search (else LEXICAL_ENOUGH do), until enough are found.

        Within the budget: every term, OR-ed (one expression, as before). Past it: pairs of the rarest terms.
        Each of three terms then sits in two pairs, so a chunk holding all three scores twice its BM25 over
        them and ranks first; one holding two scores its BM25 over those two. If the pairs find fewer than
        LEXICAL_ENOUGH chunks, the rarest terms that fit in the budget, OR-ed, add theirs after them. With three
        anchors, the chunks holding all three are looked for first, on their own, with the pairs' scale of score
        (BM25 over the three): when they are k or more, they are nearly always the pairs' first k too (a chunk
        with two of the terms outranks them only on far higher counts of those two), and FTS5 scores far fewer
        matches to find them. At 1M chunks (bench/scale.py's archive) that took the lexical side from p50
        19.0-19.6 / p95 78.8-79.6 ms to 14.2-16.0 / 63.3-64.9 ms, the same chunks in the same order for all 100
        queries."""
        everything = [(" OR ".join(terms), 1.0, False)]
        if len(terms) == 1:
            return everything
        rows = self._term_rows(terms)
        if rows is None or sum(rows) <= self.LEXICAL_ROW_BUDGET:
            return everything
        rarest = sorted(range(len(terms)), key=lambda i: rows[i])
        anchors = [terms[i] for i in sorted(rarest[: self.LEXICAL_ANCHORS])]
        pairs = " OR ".join(f"({a} AND {b})" for i, a in enumerate(anchors) for b in anchors[i + 1 :])
        every = [(" AND ".join(anchors), 1.0, True)] if len(anchors) > 2 else []
        kept, total = [], 0.0
        for i in rarest:
            if kept and total + rows[i] > self.LEXICAL_ROW_BUDGET:
                break
            kept.append(i)
            total += rows[i]
        fill = " OR ".join(terms[i] for i in sorted(kept))
        return [*every, (pairs, len(anchors) - 1.0, False), (fill, 1.0, False)]

    def _term_rows(self, terms: list[str]) -> list[float] | None:
        """Estimated chunks holding each term; None for an archive within the row budget (no estimate needed)."""
        # Two subqueries: SQLite answers a lone min() or max() from the rowid b-tree, but scans for both at once.
        lo, hi = self._db.execute("SELECT (SELECT min(n) FROM chunks), (SELECT max(n) FROM chunks)").fetchone()
        if lo is None or hi - lo + 1 <= self.LEXICAL_ROW_BUDGET:
            return None
        span, width = hi - lo + 1, self._SAMPLE
        if self._df_at is None or abs(hi - self._df_at) > 0.05 * span:
            self._df = {}  # the archive changed noticeably since the shares were estimated
            self._df_at = hi
        # The share of chunks holding a term, counted (not scored) among the oldest and the newest rowids: about
        # 0.1 ms a term at 1M chunks, where an exact count of a common term takes tens of ms.
        windows = [(lo, hi)] if span <= 4 * width else [(lo, lo + width - 1), (hi - width + 1, hi)]
        sample = sum(b - a + 1 for a, b in windows)
        count = "(SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ? AND rowid BETWEEN ? AND ?)"
        sql = "SELECT " + " + ".join([count] * len(windows))
        rows = []
        for term in terms:
            share = self._df.get(term)
            if share is None:
                share = self._db.execute(sql, [x for a, b in windows for x in (term, a, b)]).fetchone()[0] / sample
                if len(self._df) >= 100_000:
                    self._df.clear()
                self._df[term] = share
            rows.append(share * span)
        return rows

    def _lexical_papers(
        self, match: str, k: int, paper_ids: Sequence[str], where: list[str], args: list
    ) -> list[tuple[str, float]]:
        """BM25 within a few papers. A paper's chunks are written in one transaction, so their rowids form one
        short range that FTS5 seeks to directly; the paper_id test keeps this exact even if they did not."""
        select = (
            "SELECT c.id, bm25(chunks_fts, 1.0, 0.3) AS score FROM chunks_fts JOIN chunks c ON c.n = chunks_fts.rowid "
            "WHERE chunks_fts MATCH ? AND chunks_fts.rowid BETWEEN ? AND ? AND c.paper_id = ?"
        )
        parts, part_args = [], []
        ranges = self._db.execute(
            f"SELECT paper_id, min(n), max(n) FROM chunks WHERE paper_id IN ({','.join('?' * len(paper_ids))}) "
            "GROUP BY paper_id",
            list(paper_ids),
        )
        for pid, lo, hi in ranges:
            parts.append(" AND ".join([select, *where]))
            part_args.extend([match, lo, hi, pid, *args])
        if not parts:
            return []
        sql = f"SELECT id, score FROM ({' UNION ALL '.join(parts)}) ORDER BY score LIMIT ?"
        with closing(self._db.cursor()) as cur:
            return [(cid, -score) for cid, score in cur.execute(sql, [*part_args, k])]


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb) -> None:
        self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")


_CHUNK_COLS = "id, paper_id, page_start, page_end, section, kind, char_start, char_end, text, sentences"
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "how",
        "in",
        "is",
        "it",
        "of",
        "on",
        "or",
        "that",
        "the",
        "their",
        "this",
        "to",
        "was",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "with",
        "does",
        "did",
        "do",
        "about",
        "than",
        "then",
        "there",
        "these",
        "those",
        "into",
        "its",
        "our",
        "we",
        "they",
        "paper",
        "papers",
    ]
)


# What "how" asks with: the word after it says what kind of answer is wanted, not what the answer is about.
_HOW = frozenset(
    {"many", "much", "large", "big", "long", "small", "short", "fast", "slow", "often", "high", "low", "far", "wide"}
    | {"deep", "old", "well"}
)


def _in_batches(db: sqlite3.Connection, sql: str, values: Sequence, size: int = 500) -> Iterator[tuple]:
    """The rows of ``sql``, whose ``{marks}`` is an IN list, over ``values`` in batches that stay within SQLite's
    limit on bound parameters."""
    for i in range(0, len(values), size):
        part = list(values[i : i + size])
        yield from db.execute(sql.format(marks=",".join("?" * len(part))), part)


def _fts_phrase(text: str) -> str | None:
    """The text's words as one quoted FTS5 phrase ("O1-distilled data" -> '"o1 distilled data"'), None if it
    has no words: quotes and operators in the text cannot reach the MATCH syntax."""
    words = re.findall(r"[^\W_]+", text.lower())
    return '"' + " ".join(words) + '"' if words else None


def fts_terms(text: str, pairs: bool = False) -> list[str]:
    """The text's words as quoted FTS5 phrases, split the way the unicode61 tokenizer splits the index ("79.8" →
    phrase "79 8", "Qwen2.5-7B" → "qwen2 5 7b"; "6.5×" also gives "6.5x"), in order, each once, without stop words
    and without the word after "how" ("how **large**"). With ``pairs``, also each two neighbouring
    words of the text that are not stop words, as one phrase ("base model", "sparse rewards"): a passage that
    has the question's words side by side, as the question has them, scores above one that merely has them
    (the sequential dependence of IR's term-proximity models, in its simplest form)."""
    terms: list[str] = []
    previous: list[str] | None = None
    last = ""  # the previous word's last part
    for word in text.lower().split():
        parts = re.findall(r"[^\W_]+", word)
        after_how, last = last == "how", (parts[-1] if parts else "")
        if after_how and len(parts) == 1 and parts[0] in _HOW:
            previous = None  # "how large is the set": asks for a size, and "large" would match "large-scale"
            continue
        if not parts or (len(parts) == 1 and parts[0] in _STOP):
            previous = None
            continue
        phrases = [" ".join(parts)]
        if word.rstrip(".,;:)").endswith("×") and parts[-1].isdigit():
            phrases.append(" ".join([*parts[:-1], parts[-1] + "x"]))
        if pairs and previous is not None:
            phrases.append(" ".join([*previous, *parts]))
        previous = parts
        for phrase in phrases:
            term = f'"{phrase}"'
            if term not in terms:
                terms.append(term)
    return terms


def _record(row: tuple) -> PaperRecord:
    (
        pid,
        version,
        title,
        authors,
        abstract,
        source_url,
        sha256,
        pages,
        chunks,
        sections,
        published,
        status,
        ingested_at,
        warning,
        parser,
    ) = row
    return PaperRecord(
        pid,
        version,
        title,
        tuple(json.loads(authors)),
        abstract,
        source_url,
        sha256,
        pages,
        chunks,
        tuple(json.loads(sections)),
        published,
        status,
        ingested_at,
        warning,
        parser,
    )


def _chunk(row: tuple) -> Chunk:
    cid, paper_id, page_start, page_end, section, kind, char_start, char_end, text, sentences = row
    return Chunk(
        paper_id=paper_id,
        page_start=page_start,
        page_end=page_end,
        section=section,
        kind=kind,
        char_start=char_start,
        char_end=char_end,
        text=text,
        id=cid,
        sentences=None if sentences is None else tuple((s, e) for s, e in json.loads(sentences)),
    )
