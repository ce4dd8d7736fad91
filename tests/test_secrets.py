"""The API key never leaves the request header: not in stdout or stderr, not in a digest, a session, a log
line or any file under the home, whatever the endpoint answers (401 and 500 bodies echoing the key, refusals
and replies quoting it, garbage), with and without FOOTNOTE_DEBUG.

Two gaps found here are fixed in footnote/llm.py (the reply is scrubbed of the key before anything reads it): a
key cut in half by a reply snippet, and a key the endpoint puts inside a statement.

test_llm_client.py checks the client's error messages and log lines one by one; this runs the real commands.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from footnote.settings import Settings
from index.archive import Archive
from ingest.pipeline import ingest
from tests import pdfs

KEY = "sk-test-SECRET-4f9a2c7d1e8b6a305f4c9d2e7b1a8c6d"
SECRET_PART = KEY.removeprefix("sk-test-")
SCRIPT = Path(sys.executable).with_name("footnote")
PAPER = "2501.17811"


def leaks(text: str | bytes) -> list[str]:
    """The key, or any 10-character piece of its secret part, found in `text`."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace") + text.decode("utf-16-le", "replace")
    pieces = {SECRET_PART[i : i + 10] for i in range(len(SECRET_PART) - 9)}
    return [p for p in [KEY, *sorted(pieces)] if p in text]


@pytest.fixture(scope="module")
def cut(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("secrets")
    return pdfs.page_subset(pdfs.PAPERS / f"{PAPER}.pdf", folder, [1, 2, 3], f"{PAPER}.pdf")


def env_for(scripted_llm, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FOOTNOTE_", "OPENAI_"))}
    env.update(
        FOOTNOTE_LLM_BASE_URL=scripted_llm.base_url,
        FOOTNOTE_LLM_MODEL=scripted_llm.model,
        FOOTNOTE_LLM_API_KEY=KEY,
        FOOTNOTE_LLM_MAX_RETRIES="1",
        FOOTNOTE_LLM_TIMEOUT_S="1",
        FOOTNOTE_LLM_CONCURRENCY="1",
        **extra,
    )
    return env


def copy_first_passage(request: dict) -> dict:
    user = request["messages"][-1]["content"]
    first = user.split("Passages:\n", 1)[1].split("\n", 2)[1]
    return {"statements": [{"text": first.split(". ")[0] + ".", "cites": [1]}]}


def hostile_endpoint(scripted_llm) -> None:
    """Every way an endpoint can hand the key back."""
    scripted_llm.fail(401, message=f"Incorrect API key provided: {KEY}. You can find your API key at ...")
    scripted_llm.fail(500, message=f"upstream said {KEY}").fail(500, message=f"upstream said {KEY}")
    scripted_llm.refusal(f"I will not repeat {KEY}")
    scripted_llm.reply(f"no JSON, just {KEY}").reply(f"{KEY} again")
    scripted_llm.truncated(f'{{"statements": [{{"text": "{KEY}').truncated(f"{KEY} {KEY}")
    scripted_llm.fail(429, retry_after=0.01, message=KEY).fail(429, retry_after=0.01, message=KEY)
    scripted_llm.default = copy_first_passage


def test_the_key_never_leaves_the_request_header(scripted_llm, cut, tmp_path):
    home = tmp_path / "home"
    archive = Archive(Settings(home=home))
    try:
        assert ingest([str(cut)], archive).ingested == [PAPER]
    finally:
        archive.close()
    outputs: list[str] = []

    def footnote(*args: str, **extra: str) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [str(SCRIPT), "--home", str(home), *args],
            capture_output=True,
            text=True,
            env=env_for(scripted_llm, **extra),
            cwd=tmp_path,
            timeout=600,
        )
        outputs.extend([done.stdout, done.stderr])
        return done

    hostile_endpoint(scripted_llm)
    digest = footnote("digest", "2025-05-07", "--papers", str(cut), "--generator", "llm", "--lang", "en")
    assert digest.returncode == 0, digest.stderr
    markdown = Path(digest.stdout.strip()).read_text(encoding="utf-8")
    assert "extractive fallback" in markdown and r"\*\*\*" in markdown  # reported, redacted (and escaped)

    scripted_llm.fail(401, message=f"Incorrect API key provided: {KEY}")
    ask = footnote(
        "ask",
        "What does Janus-Pro improve over Janus?",
        "--generator",
        "llm",
        "--json",
        "--session",
        "s1",
        FOOTNOTE_DEBUG="1",
    )
    assert ask.returncode == 0, ask.stderr
    assert "rejected the API key" in json.loads(ask.stdout).get("note", "") or "***" in ask.stdout

    scripted_llm.fail(500, message=f"upstream said {KEY}").fail(500, message=f"upstream said {KEY}")
    down = footnote("ask", "What data is Janus-Pro trained on?", "--generator", "llm", "--session", "s1")
    assert down.returncode == 0, down.stderr

    # the key was really in use: every request carried it
    assert scripted_llm.headers and all(h["authorization"] == f"Bearer {KEY}" for h in scripted_llm.headers)
    assert len(scripted_llm.requests) >= 12
    for text in outputs:
        assert leaks(text) == [], text
    files = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.suffix == ".md" for p in files) and any(p.parent.name == "sessions" for p in files)
    for path in files:
        assert leaks(path.read_bytes()) == [], path


def test_a_key_cut_by_the_reply_snippet_is_not_shown_in_part(scripted_llm, caplog):
    from footnote.errors import LLMError
    from footnote.llm import LLMClient

    client = LLMClient(scripted_llm.settings(api_key=KEY))
    messages = []
    for content in ("x" * 105 + KEY, f"{KEY} " * 3):
        scripted_llm.reply(content)
        with pytest.raises(LLMError) as info:
            client.complete_json("s", "u")
        messages.append(str(info.value))
        scripted_llm.truncated(content)
        with pytest.raises(LLMError) as info:
            client.complete_json("s", "u")
        messages.append(str(info.value))
    assert [leaks(m) for m in messages] == [[], [], [], []], messages


def test_a_key_echoed_into_a_statement_stays_out_of_the_digest(small_home, scripted_llm, tmp_path):
    from footnote.llm import LLMClient
    from summarize.digest import build_digest
    from summarize.llm_gen import LLMDrafter
    from summarize.render import write_digest

    scripted_llm.default = {"statements": [{"text": f"The API key is {KEY}.", "cites": [1]}]}
    archive = Archive(Settings(home=small_home))
    try:
        drafter = LLMDrafter(LLMClient(scripted_llm.settings(api_key=KEY)))
        digest = build_digest("2025-05-07", archive, ["2505.00212"], lang="en", generator="llm", llm=drafter)
    finally:
        archive.close()
    md, js = write_digest(digest, tmp_path, tmp_path / "day.md")
    assert leaks(md.read_bytes()) == [] and leaks(js.read_bytes()) == []
