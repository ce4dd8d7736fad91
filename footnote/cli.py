"""The `footnote` command: a thin click layer over the library. Results on stdout, progress on stderr."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from footnote.errors import FootnoteError
from footnote.settings import Settings, describe_error


def _debug() -> bool:
    return os.environ.get("FOOTNOTE_DEBUG", "").lower() in ("1", "true", "yes")


def _quiet_libraries() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


# Set by a command that only reads the archive (papers, ask, cite): entry() then ends the process at once.
_reads_only = False


def reads_only() -> None:
    """Mark this run as one that wrote nothing that needs the interpreter's teardown (see `entry`)."""
    global _reads_only
    _reads_only = True


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn library errors into one line on stderr and exit 1 (tracebacks only with FOOTNOTE_DEBUG=1)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except FootnoteError as exc:
            if _debug():
                raise
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise  # usage errors keep click's own message and exit code 2
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # an unexpected failure still gets one line, not a traceback
            if _debug():
                raise
            message = " ".join(str(exc).split()) or type(exc).__name__
            click.echo(f"error: {type(exc).__name__}: {message} (set FOOTNOTE_DEBUG=1 for a traceback)", err=True)
            sys.exit(1)

    return wrapper


class Context:
    def __init__(self, home: Path | None) -> None:
        _quiet_libraries()
        try:
            settings = Settings()
        except Exception as exc:
            raise click.UsageError(f"invalid settings: {describe_error(exc)}") from None
        self.settings = settings.with_home(home) if home else settings

    @functools.cached_property
    def archive(self):
        from index.archive import Archive

        return Archive(self.settings)

    def existing_archive(self):
        """The archive, for a command that only reads it: a home with none (a mistyped --home, nothing ingested
        yet) is an error, and no empty archive is left behind there."""
        home = Path(self.settings.home)
        if not (home / "archive.sqlite").is_file():
            raise FootnoteError(
                f"{home}: no archive here (nothing ingested yet: footnote --home {home} ingest SOURCE...)"
            )
        return self.archive


def nonblank(what: str, text: str) -> str:
    """The question or claim, or a usage error when it has no words."""
    if not text.strip():
        raise click.UsageError(f"{what} is empty")
    return text


pass_ctx = click.make_pass_decorator(Context)
generator_option = click.option(
    "--generator",
    type=click.Choice(["extractive", "llm"]),
    default=None,
    help="Default: llm when an endpoint is configured, else extractive.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Archive home (default ./data, or FOOTNOTE_HOME).",
)
@click.version_option(package_name="footnote")
@click.pass_context
def cli(ctx: click.Context, home: Path | None) -> None:
    """footnote: grounded digests of research papers; every statement and number points to its page."""
    ctx.obj = Context(home)


@cli.command()
@click.argument("sources", nargs=-1)
@click.option("--date", "day", default=None, metavar="YYYY-MM-DD", help="Ingest every paper on that day's HF list.")
@click.option("--json", "as_json", is_flag=True, help="Print {ingested, skipped, failed} as JSON on stdout.")
@click.option(
    "--wait",
    "wait_s",
    default=0.0,
    type=float,
    show_default=True,
    help="Seconds to wait for another ingest on the same home before refusing.",
)
@pass_ctx
@handle_errors
def ingest(ctx: Context, sources: tuple[str, ...], day: str | None, as_json: bool, wait_s: float) -> None:
    """Ingest PDFs, directories of PDFs, arXiv ids or arXiv/HF paper URLs (or --date's daily list)."""
    from footnote.progress import RichProgress
    from ingest.pipeline import ingest as run_ingest

    if not sources and not day:
        raise click.UsageError("give at least one SOURCE or --date YYYY-MM-DD")
    entries = {}
    items: list[str] = list(sources)
    if day:
        from ingest.daily import fetch_daily

        daily = fetch_daily(day, ctx.settings.ingest)
        entries = {e.id: e for e in daily}
        items.extend(e.id if e.version is None else f"{e.id}v{e.version}" for e in daily)
        click.echo(f"{day}: {len(daily)} papers on the daily list", err=True)
    with RichProgress() as progress:
        report = run_ingest(items, ctx.archive, entries=entries, day=day, progress=progress, lock_wait_s=wait_s)
    for failure in report.failed:
        click.echo(f"failed: {failure['error']}", err=True)
    for warning in report.warnings:
        click.echo(f"warning: {warning['warning']}", err=True)
    for note in report.notes:
        click.echo(note, err=True)
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        from footnote.render import ingest_table

        ingest_table(report)
    sys.exit(1 if report.failed else 0)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the archive as a JSON list.")
@pass_ctx
@handle_errors
def papers(ctx: Context, as_json: bool) -> None:
    """List the papers in the archive."""
    reads_only()
    records = ctx.existing_archive().papers()
    if as_json:
        click.echo(json.dumps([r.to_json() for r in records], ensure_ascii=False))
        return
    from footnote.render import papers_table

    papers_table(records)


@cli.command()
@click.argument("day", metavar="YYYY-MM-DD")
@click.argument("sources", nargs=-1)
@click.option(
    "--papers",
    "use_papers",
    is_flag=True,
    help="The SOURCE arguments (PDF paths, directories, arXiv ids) make up the day, not the HF list.",
)
@click.option("--lang", type=click.Choice(["ko", "en"]), default="ko", show_default=True, help="Digest language.")
@generator_option
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Markdown path (the JSON goes beside it). Default HOME/digests/DATE.LANG.md.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the digest JSON on stdout.")
@pass_ctx
@handle_errors
def digest(
    ctx: Context,
    day: str,
    sources: tuple[str, ...],
    use_papers: bool,
    lang: str,
    generator: str | None,
    out: Path | None,
    as_json: bool,
) -> None:
    """Write the grounded digest of a day's papers: seven sections each, every statement cited."""
    from footnote.progress import RichProgress
    from ingest.ids import parse_date
    from summarize.run import run_digest

    parse_date(day)
    if sources and not use_papers:
        raise click.UsageError("SOURCE arguments need --papers (e.g. footnote digest DATE --papers a.pdf b.pdf)")
    if use_papers and not sources:
        raise click.UsageError("--papers needs at least one SOURCE")
    with RichProgress() as progress:
        result = run_digest(
            day,
            ctx.archive,
            sources=list(sources) if use_papers else None,
            lang=lang,
            generator=generator,
            progress=progress,
        )
    for note in result.notes:
        click.echo(note, err=True)
    click.echo(f"generator: {result.digest.generator}", err=True)
    for paper_id, (sent, received) in result.usage.items():
        click.echo(f"llm tokens {paper_id}: {sent} sent, {received} received", err=True)
    md_path, _json_path = result.write(out)
    for paper in result.digest.papers:
        if paper.warning:
            click.echo(f"warning: {paper.id}: {paper.warning}", err=True)
    failed = [p for p in result.digest.papers if p.status == "failed"]
    for paper in failed:  # they stay in the digest (abstract only where the list has one); named here too
        click.echo(f"failed: {paper.error or paper.id}", err=True)
    if as_json:
        click.echo(json.dumps(result.digest.to_json(), ensure_ascii=False))
    else:
        click.echo(str(md_path))
    if failed and len(failed) == len(result.digest.papers):
        raise click.exceptions.Exit(1)  # not one paper could be read: the digest, written all the same, is empty


def _llm_client(ctx: Context, generator: str | None):
    from summarize.run import choose_generator

    if choose_generator(ctx.archive, generator) != "llm":
        return None
    from footnote.llm import LLMClient

    return LLMClient(ctx.settings.llm)


def _print_answer(answer, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(answer.to_json(), ensure_ascii=False))
        return
    from footnote.render import answer_text

    answer_text(answer)


@cli.command()
@click.argument("question")
@click.option("--paper", "paper_ids", multiple=True, metavar="ID", help="Only these papers (repeatable).")
@click.option("--since", default=None, metavar="YYYY-MM-DD", help="Only papers filed on or after this date.")
@click.option("--until", default=None, metavar="YYYY-MM-DD", help="Only papers filed on or before this date.")
@click.option(
    "-k",
    "k",
    type=click.IntRange(1, 50),
    default=None,
    help="Statements (passages) in the answer at most (default qa.k); abstention judges the best k passages.",
)
@generator_option
@click.option(
    "--session",
    "session_name",
    default=None,
    metavar="NAME",
    help="Keep a conversation: follow-ups are resolved against earlier turns.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@pass_ctx
@handle_errors
def ask(
    ctx: Context,
    question: str,
    paper_ids: tuple[str, ...],
    since: str | None,
    until: str | None,
    k: int | None,
    generator: str | None,
    session_name: str | None,
    as_json: bool,
) -> None:
    """Answer a question across the archive, every statement cited; or say it is not found."""
    reads_only()
    from ingest.ids import parse_date
    from qa.session import ask_in_session

    nonblank("QUESTION", question)
    for day in (since, until):
        if day:
            parse_date(day)
    if since and until and since > until:
        raise click.UsageError(f"--since {since} is after --until {until}: no paper can be filed in between")
    if session_name is not None:
        from qa.session import session_path

        session_path(ctx.settings.home, session_name)  # a name that is no name is refused before anything else
    ctx.existing_archive()
    llm = _llm_client(ctx, generator)
    answer = ask_in_session(
        ctx.archive,
        question,
        session_name,
        k=k,
        paper_ids=ctx.archive.known_papers(paper_ids) if paper_ids else None,
        since=since,
        until=until,
        llm=llm,
    )
    _print_answer(answer, as_json)


@cli.command()
@click.option("--session", "session_name", default=None, metavar="NAME", help="Session name (default: chat).")
@generator_option
@pass_ctx
@handle_errors
def chat(ctx: Context, session_name: str | None, generator: str | None) -> None:
    """Ask questions interactively; follow-ups use the earlier turns (Ctrl-D to leave)."""
    from qa.session import ask_in_session

    try:
        import readline
    except ImportError:  # pragma: no cover - readline is missing on some platforms
        readline = None
    name = session_name or "chat"
    ctx.existing_archive()  # before the history file: a mistyped --home gets no folders
    history = ctx.settings.home / "sessions" / ".history"
    history.parent.mkdir(parents=True, exist_ok=True)
    if readline is not None and history.exists():
        readline.read_history_file(history)
    llm = _llm_client(ctx, generator)
    try:
        while True:
            try:
                question = input("? ").strip()
            except EOFError:
                break
            if not question:
                continue
            try:
                answer = ask_in_session(ctx.archive, question, name, llm=llm)
            except FootnoteError as exc:
                click.echo(f"error: {exc}", err=True)
                continue
            _print_answer(answer, False)
    finally:
        if readline is not None:
            readline.write_history_file(history)


@cli.command()
@click.argument("claim")
@click.option("-k", "k", type=click.IntRange(1, 50), default=None, help="Matches to show (default qa.k).")
@click.option("--paper", "paper_ids", multiple=True, metavar="ID", help="Only these papers (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the matches as JSON.")
@pass_ctx
@handle_errors
def cite(ctx: Context, claim: str, k: int | None, paper_ids: tuple[str, ...], as_json: bool) -> None:
    """Find the passages that state a claim or a number: paper, page, section and quote."""
    reads_only()
    from qa.cite import cite as run_cite
    from qa.cite import unknown_names

    nonblank("CLAIM", claim)
    ctx.existing_archive()

    papers = ctx.archive.known_papers(paper_ids) if paper_ids else None
    matches = run_cite(ctx.archive, claim, k=k or ctx.settings.qa.k, paper_ids=papers)
    unknown = unknown_names(ctx.archive.catalog, claim, papers)
    if as_json:
        doc = {"query": claim, "matches": [m.to_json() for m in matches], "unknown_names": unknown}
        click.echo(json.dumps(doc, ensure_ascii=False))
        return
    from footnote.render import matches_text

    matches_text(claim, matches, unknown, searched=bool(paper_ids))


def main() -> None:
    """The CLI, ending as click ends it (SystemExit): for calling footnote from Python."""
    cli(prog_name="footnote")


def entry() -> None:
    """The `footnote` command (and ``python -m footnote.cli``): `main`, but a run that only read the archive
    (`reads_only`) ends the process at once (`exit_now`)."""
    global _reads_only
    _reads_only = False
    try:
        main()
    except SystemExit as exc:  # click ends every run so, success included
        if _reads_only and (exc.code is None or isinstance(exc.code, int)):
            exit_now(exc.code or 0)
        raise


def exit_now(code: int) -> NoReturn:
    """End the process without tearing the interpreter down. After `footnote cite` that teardown (freeing the
    modules and objects of chromadb, OpenTelemetry, gRPC and OpenVINO) takes about 0.3 s, a sixth of the whole
    run (bench/cite_latency.py). What a normal exit does first is still done, in its order: other threads are
    waited for (and thread pools shut down), the exit handlers run, stdout and stderr are flushed. Only the
    freeing is skipped, so only commands that write nothing but committed SQLite and closed files
    (`reads_only`) end so; a session's turn is written (atomically) before this point."""
    import atexit
    import threading

    # CPython's own steps of a normal exit, private but there since Python 3.0; skipped where missing.
    for step in (getattr(threading, "_shutdown", None), getattr(atexit, "_run_exitfuncs", None)):
        if step is not None:
            step()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe (footnote cite ... | head)
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
