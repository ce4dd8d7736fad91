"""footnote.settings: described fields, unknown fields rejected, the documented environment variables read."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError
from pydantic_settings import BaseSettings

from footnote.settings import (
    IndexSettings,
    IngestSettings,
    LLMSettings,
    QASettings,
    Settings,
    SummarizeSettings,
)

SECTIONS = [IngestSettings, IndexSettings, LLMSettings, SummarizeSettings, QASettings]


def all_models(model: type[BaseModel] = Settings) -> list[type[BaseModel]]:
    """Settings and every settings class nested in it, found by walking the fields."""
    found = [model]
    for field in model.model_fields.values():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel) and kind not in found:
            found.extend(m for m in all_models(kind) if m not in found)
    return found


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """No developer setting leaks in (conftest already drops FOOTNOTE_*/OPENAI_* at import)."""
    import os

    for name in list(os.environ):
        if name.startswith(("FOOTNOTE_", "OPENAI_")):
            monkeypatch.delenv(name)


def test_every_section_is_reachable_from_settings():
    assert set(all_models()) == {Settings, *SECTIONS}


@pytest.mark.parametrize("model", [Settings, *SECTIONS], ids=lambda m: m.__name__)
def test_every_field_is_described(model):
    assert model.__doc__ and model.__doc__.strip()
    for name, field in model.model_fields.items():
        assert field.description and len(field.description) >= 10, f"{model.__name__}.{name}"


@pytest.mark.parametrize("model", [Settings, *SECTIONS], ids=lambda m: m.__name__)
def test_unknown_fields_are_rejected(model):
    with pytest.raises(ValidationError, match="bogus"):
        model(bogus=1)


def test_unknown_fields_are_rejected_in_nested_sections():
    with pytest.raises(ValidationError):
        Settings(foo=1)
    with pytest.raises(ValidationError):
        Settings(ingest={"max_pages": 10, "bogus": 1})
    assert Settings(ingest={"max_pages": 10}).ingest.max_pages == 10


def test_settings_are_frozen():
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.home = Path("elsewhere")
    moved = settings.with_home("/tmp/x")
    assert moved.home == Path("/tmp/x") and settings.home == Path("data")


@pytest.mark.parametrize(
    ("model", "field", "bad"),
    [
        (IngestSettings, "max_pages", 0),
        (IngestSettings, "retries", 11),
        (IngestSettings, "chunk_tokens", 8),
        (IngestSettings, "timeout_s", 0),
        (IndexSettings, "dense_k", 0),
        (LLMSettings, "temperature", 3),
        (QASettings, "abstain_below", 1.5),
    ],
)
def test_out_of_range_values_are_rejected(model, field, bad):
    with pytest.raises(ValidationError, match=field):
        model(**{field: bad})


def test_defaults():
    s = Settings()
    assert s.home == Path("data")
    assert s.debug is False
    assert s.ingest.hf_base_url == "https://huggingface.co"
    assert s.ingest.arxiv_base_url == "https://arxiv.org"
    assert s.index.chroma_url is None
    assert s.index.embedding_model == "bundled:all-MiniLM-L6-v2"
    assert s.llm.base_url is None and s.llm.model is None and s.llm.api_key is None
    assert not s.llm.configured


ENV = [
    ("FOOTNOTE_HOME", "/srv/footnote", lambda s: s.home == Path("/srv/footnote")),
    ("FOOTNOTE_DEBUG", "1", lambda s: s.debug is True),
    ("FOOTNOTE_HF_BASE_URL", "http://127.0.0.1:9/hf", lambda s: s.ingest.hf_base_url == "http://127.0.0.1:9/hf"),
    (
        "FOOTNOTE_ARXIV_BASE_URL",
        "http://127.0.0.1:9/ax",
        lambda s: s.ingest.arxiv_base_url == "http://127.0.0.1:9/ax",
    ),
    ("FOOTNOTE_CHROMA_URL", "http://127.0.0.1:8000", lambda s: s.index.chroma_url == "http://127.0.0.1:8000"),
    ("FOOTNOTE_LLM_BASE_URL", "http://127.0.0.1:8080/v1", lambda s: s.llm.base_url == "http://127.0.0.1:8080/v1"),
    ("OPENAI_BASE_URL", "http://127.0.0.1:8081/v1", lambda s: s.llm.base_url == "http://127.0.0.1:8081/v1"),
    ("FOOTNOTE_LLM_MODEL", "qwen2.5-0.5b", lambda s: s.llm.model == "qwen2.5-0.5b"),
    (
        "FOOTNOTE_LLM_API_KEY",
        "sk-footnote",
        lambda s: s.llm.api_key is not None and s.llm.api_key.get_secret_value() == "sk-footnote",
    ),
    (
        "OPENAI_API_KEY",
        "sk-openai",
        lambda s: s.llm.api_key is not None and s.llm.api_key.get_secret_value() == "sk-openai",
    ),
    ("FOOTNOTE_MAX_PAGES", "7", lambda s: s.ingest.max_pages == 7),
]


@pytest.mark.parametrize(("env", "value", "read"), ENV, ids=[row[0] for row in ENV])
def test_environment_variables_are_read(monkeypatch, env, value, read):
    assert not read(Settings())
    monkeypatch.setenv(env, value)
    assert read(Settings())


def test_footnote_key_wins_over_openai_key_and_is_never_shown(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-secret")
    monkeypatch.setenv("FOOTNOTE_LLM_API_KEY", "sk-footnote-secret")
    monkeypatch.setenv("FOOTNOTE_LLM_MODEL", "m")
    settings = Settings()
    assert settings.llm.api_key.get_secret_value() == "sk-footnote-secret"
    assert settings.llm.configured
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    assert "secret" not in shown


def test_footnote_base_url_wins_over_openai_base_url(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://openai.invalid/v1")
    monkeypatch.setenv("FOOTNOTE_LLM_BASE_URL", "http://footnote.invalid/v1")
    assert Settings().llm.base_url == "http://footnote.invalid/v1"


def test_explicit_value_beats_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FOOTNOTE_HOME", "/srv/footnote")
    assert Settings(home=tmp_path).home == tmp_path


def test_bad_environment_value_is_a_validation_error(monkeypatch):
    monkeypatch.setenv("FOOTNOTE_MAX_PAGES", "0")
    with pytest.raises(ValidationError, match="max_pages"):
        Settings()


def test_sections_are_settings_classes():
    for model in SECTIONS:
        assert issubclass(model, BaseSettings)
        assert model.model_config.get("extra") == "forbid"
