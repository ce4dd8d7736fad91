"""LLM endpoint faults inside one real digest (scripted OpenAI-compatible server on 127.0.0.1): every kind
of failure in one day, each section either recovering within its retry budget or falling back to the
extractive generator, the fallback stated in the JSON and the Markdown, and the digest always written.

test_llm_client.py covers each failure at the client; test_digest_llm.py covers a digest where every
request fails the same way (429, 500, timeout, malformed JSON). Here they are mixed, counted and rendered.
"""

from __future__ import annotations

import json
import re
import time

import pytest

from footnote.llm import LLMClient
from footnote.settings import Settings, SummarizeSettings
from index.archive import Archive
from summarize.digest import build_digest
from summarize.llm_gen import SYSTEM, LLMDrafter
from summarize.render import to_markdown, write_digest
from tests.digest_checks import check_digest

PAPER = "2505.00212"


def passages_of(request: dict) -> dict[int, str]:
    user = request["messages"][-1]["content"]
    blocks = re.split(r"\n\n(?=\[\d+\] \(p\. )", user.split("Passages:\n", 1)[1])
    return {int(re.match(r"\[(\d+)\]", b).group(1)): b.split("\n", 1)[1] for b in blocks}


def copy_first_passage(request: dict) -> dict:
    sentence = re.split(r"(?<=[.!?])\s", passages_of(request)[1], maxsplit=1)[0]
    return {"statements": [{"text": sentence, "cites": [1]}]}


def topic_of(request: dict) -> str:
    """The section (and setup label) a recorded request asked about."""
    return re.search(r"^Section: (.*)$", request["messages"][-1]["content"], re.M).group(1)


LOOPING = '{"statements": [{"text": "' + "the results the results " * 80


@pytest.fixture
def digest_with(small_home, scripted_llm):
    def run(**llm):
        settings = Settings(home=small_home, summarize=SummarizeSettings(passages_per_section=4))
        archive = Archive(settings)
        client = LLMClient(scripted_llm.settings(**llm))
        try:
            digest = build_digest("2025-05-07", archive, [PAPER], lang="en", generator="llm", llm=LLMDrafter(client))
        finally:
            archive.close()
        return digest

    return run


def ok(server):
    """Queue the default reply (computed from the request) as the next answer."""
    return server.stall(0)


SETUP = "Experimental setup (datasets / masking / baselines)"

# Requests go out one at a time (concurrency 1), in section order, so each queued reply meets its topic.
SCRIPT = [
    # (topic as the prompt names it, queued replies, requests it costs, outcome: reason in the note or None)
    ("Motivation and problem definition", lambda s: s.empty_choices(), 1, "returned no choices"),
    ("Main contributions and novelty", lambda s: s.refusal("I cannot help with that."), 1, "LLM refused"),
    ("Model architecture and training setup", lambda s: s.truncated(LOOPING).truncated(LOOPING), 2, "cut off"),
    (f"{SETUP}: datasets only", lambda s: ok(s.fail(500)), 2, None),
    (f"{SETUP}: masking only", lambda s: ok(s.fail(429, 0.05)), 2, None),
    (f"{SETUP}: baselines only", lambda s: ok(s.reply("Sure! Here:")), 2, None),
    ("Quantitative results", lambda s: s.stall(3).stall(3), 2, "timed out"),
    ("Limitations and potential failure modes", lambda s: s.fail(503).fail(503), 2, "HTTP 503"),
    ("Future work and extensions", lambda s: s.raw({"detail": "upstream gone"}), 1, "not a chat completion"),
]
SECTION_OF = {
    "Motivation": "motivation",
    "Main contributions": "contributions",
    "Model architecture": "architecture",
    "Experimental setup": "setup",
    "Quantitative results": "results",
    "Limitations": "limitations",
    "Future work": "future_work",
}


def test_every_llm_failure_in_one_digest(digest_with, scripted_llm, paper_pdf, tmp_path):
    for _topic, queue, _cost, _reason in SCRIPT:
        queue(scripted_llm)
    scripted_llm.default = copy_first_passage
    started = time.monotonic()
    digest = digest_with(concurrency=1, max_retries=1, timeout_s=0.5)
    assert time.monotonic() - started < 60

    # each topic cost exactly its retry budget, never more
    expected = [topic for topic, _queue, cost, _reason in SCRIPT for _ in range(cost)]
    assert [topic_of(r) for r in scripted_llm.requests] == expected
    assert scripted_llm.pending == 0
    assert all(r["messages"][0]["content"] == SYSTEM for r in scripted_llm.requests)

    doc = digest.to_json()
    check_digest(doc, paper_pdf)  # whatever failed, everything kept is grounded
    sections = {s["key"]: s for s in doc["papers"][0]["sections"]}
    for topic, _queue, _cost, reason in SCRIPT:
        key = next(v for k, v in SECTION_OF.items() if topic.startswith(k))
        section = sections[key]
        if key == "setup":  # all three labels recovered within their budget: the model's own statements
            assert section["generator"] == "llm" and "note" not in section, section
            assert section["statements"]
        else:
            assert section["generator"] == "extractive", (key, section)
            assert reason in section["note"] and section["note"].endswith("extractive fallback"), section["note"]
            assert "\n" not in section["note"]
    # stated in the Markdown under each section that fell back; the files are written
    markdown = to_markdown(digest)
    for key, section in sections.items():
        block = markdown.split(f"### {section['title']}", 1)[1].split("###", 1)[0]
        assert ("*note: LLM failed (" in block) == ("note" in section), key
    md_path, json_path = write_digest(digest, tmp_path, tmp_path / "day.md")
    assert md_path.read_text(encoding="utf-8") == markdown
    assert json.loads(json_path.read_text(encoding="utf-8")) == doc


def test_hostile_retry_after_cannot_stall_the_digest(digest_with, scripted_llm, paper_pdf):
    """An endpoint answering 429 'Retry-After: 3600' forever: the retries stay in budget, the day is written."""
    for _ in range(18):
        scripted_llm.fail(429, retry_after=3600)
    started = time.monotonic()
    digest = digest_with(max_retries=1, concurrency=4)
    took = time.monotonic() - started
    assert took < 60, f"{took:.0f}s: Retry-After was obeyed past any budget"
    assert 9 <= len(scripted_llm.requests) <= 18  # nine topics, at most two tries each (none waits an hour)
    doc = digest.to_json()
    check_digest(doc, paper_pdf)
    sections = doc["papers"][0]["sections"]
    assert all(s["generator"] == "extractive" and "HTTP 429" in s["note"] for s in sections)
    assert sum(len(s["statements"]) for s in sections) >= 5  # the extractive fallback still says something
