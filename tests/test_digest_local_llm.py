"""The llm generator end to end against a real (weak) model: SmolLM2-135M on xllamacpp at 127.0.0.1.

The model copies some sentences and invents or misattributes numbers. Whatever it writes, the digest
must hold only statements whose numbers stand in their cited quotes, every quote verbatim on its page,
and the grounding report must count what was dropped. Nothing here asserts the model's wording."""

from __future__ import annotations

import pytest

from footnote.llm import LLMClient
from footnote.settings import Settings, SummarizeSettings
from index.archive import Archive
from summarize.digest import build_digest
from summarize.llm_gen import LLMDrafter
from tests.digest_checks import check_digest

PAPER = "2505.00212"


@pytest.mark.slow
def test_real_model_digest_is_fully_grounded(small_home, local_llm, paper_pdf):
    # One statement per section (two for a labelled setup topic), each at most STATEMENT_CHARS by the reply's
    # schema, so a reply fits in max_tokens and the model's own statements reach verification.
    summarize = SummarizeSettings(passages_per_section=2, statements_per_section=1)
    archive = Archive(Settings(home=small_home, summarize=summarize))
    client = LLMClient(local_llm.settings(max_tokens=160, timeout_s=90.0), llama_cpp=True)
    drafter = LLMDrafter(client)
    try:
        digest = build_digest("2025-05-07", archive, [PAPER], lang="en", generator="llm", llm=drafter)
    finally:
        archive.close()
    doc = digest.to_json()
    check_digest(doc, paper_pdf)  # numbers_verified == numbers, every quote verbatim on its page
    paper = doc["papers"][0]
    assert paper["status"] == "ok"
    g = paper["grounding"]
    assert g["statements"] + g["dropped"] > 0, "the model produced nothing at all"
    # Every section is accounted for: written by the model, or by the extractive fallback with the reason.
    written = [section for section in paper["sections"] if section["generator"] == "llm"]
    assert written, "the reply schema should let the model finish at least one section's reply"
    for section in paper["sections"]:
        assert section["generator"] in ("llm", "extractive")
        if section["generator"] == "extractive":
            assert "extractive fallback" in section["note"]
    assert paper["usage"]["prompt_tokens"] > 0
