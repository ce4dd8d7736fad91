"""What the reading commands refuse: a home with no archive, an empty question or claim, a date range that is
empty, a setting that is not valid. One line each, naming what was wrong, and nothing written."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from footnote.settings import Settings
from index.archive import Archive


def footnote(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FOOTNOTE_", "OPENAI_"))}
    return subprocess.run(
        [sys.executable, "-m", "footnote.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    "command", [["papers"], ["papers", "--json"], ["ask", "What is MoBA?"], ["cite", "6.5x"], ["chat"]]
)
def test_a_home_with_no_archive_is_an_error_and_stays_empty(tmp_path, command):
    """A mistyped --home made an empty archive there and answered "Not found in the archive"."""
    home = tmp_path / "typo"
    done = footnote("--home", str(home), *command)
    assert done.returncode == 1, done.stdout
    assert done.stderr.strip() == (
        f"error: {home}: no archive here (nothing ingested yet: footnote --home {home} ingest SOURCE...)"
    )
    assert done.stdout == ""
    assert not home.exists()


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli-input") / "home"
    Archive(Settings(home=path)).close()
    return path


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["ask", ""], "Error: QUESTION is empty"),
        (["ask", "   "], "Error: QUESTION is empty"),
        (["cite", " \t"], "Error: CLAIM is empty"),
        (
            ["ask", "What is MoBA?", "--since", "2025-05-01", "--until", "2025-01-01"],
            "Error: --since 2025-05-01 is after --until 2025-01-01: no paper can be filed in between",
        ),
    ],
)
def test_an_empty_question_or_date_range_is_a_usage_error(home, command, message):
    done = footnote("--home", str(home), *command)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == message
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("FOOTNOTE_QA_K", "abc", "FOOTNOTE_QA_K='abc': Input should be a valid integer"),
        ("FOOTNOTE_LLM_CONCURRENCY", "0", "FOOTNOTE_LLM_CONCURRENCY='0': Input should be greater than or equal to 1"),
        ("FOOTNOTE_EMBEDDING_BACKEND", "gpu", "FOOTNOTE_EMBEDDING_BACKEND='gpu': Input should be 'auto'"),
    ],
)
def test_a_bad_setting_names_its_environment_variable(home, variable, value, says):
    done = footnote("--home", str(home), "papers", env={variable: value})
    assert done.returncode == 2
    last = done.stderr.splitlines()[-1]
    assert last.startswith(f"Error: invalid settings: {says}"), done.stderr


def test_a_setting_read_under_several_names_is_named_by_its_variable():
    from footnote.settings import LLMSettings, QASettings, _env_name

    assert _env_name(LLMSettings, "base_url") == "FOOTNOTE_LLM_BASE_URL"  # not its field name, "BASE_URL"
    assert _env_name(LLMSettings, "api_key") == "FOOTNOTE_LLM_API_KEY"
    assert _env_name(QASettings, "k") == "FOOTNOTE_QA_K"
