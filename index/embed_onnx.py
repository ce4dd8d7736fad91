"""The bundled (or any local BERT-like sentence-transformers) model exported once to ONNX, run without torch.

Embedding needs only tokenizers, numpy and a runtime: onnxruntime here (`OnnxEmbedder`, fp32 or int8) or
OpenVINO (index.embed_openvino). torch and transformers are imported solely by `ensure_model`, the first time a
model is used on a machine, to export it; the result is cached.

The cache lives in ``$XDG_CACHE_HOME/footnote/onnx/<key>/`` (``~/.cache/footnote/onnx/<key>/`` by default),
outside any archive home, so every home on the machine shares one export. The key hashes the export recipe
(CACHE_VERSION), onnxruntime's version and the model folder (small files by content, weights by size and
mtime), so a changed model or runtime gets a fresh export. Files are written under temporary names and renamed
into place, and builders hold an exclusive lock on ``<key>.lock``: two processes starting at once build once,
and a crash mid-build leaves no half-written model behind. Deleting the folder is always safe.

The graph (``model-fp32.onnx``): the transformer, then mean pooling over the attention mask (or the [CLS] token,
as the model's pooling config says) and L2 normalisation, as the model's sentence-transformers modules do; the
export is checked against torch before it is cached. ``model-int8.onnx``: the same with attention, layer norms
and GELU fused by onnxruntime's transformer optimiser, then dynamically quantised: int8 weights per output
channel for every MatMul and attention projection, uint8 activations per run (one range for the whole input of a
product, so `OnnxEmbedder` runs each text on its own: see there). Per-tensor weights cost too much accuracy on
this model (cosine to fp32 about 0.94 instead of 0.99).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import logging
import os
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Literal

import numpy as np

from index.embed import token_ids

Variant = Literal["fp32", "int8", "openvino-int8", "openvino-int8-attn"]
CACHE_VERSION = 2  # bump when the export or quantisation recipe changes
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_QUANTISED = {  # said while it is built
    "openvino-int8": ", then quantising it with NNCF",
    "openvino-int8-attn": ", then quantising it with NNCF",
}
_SMALL = 1 << 20  # files up to this size are hashed by content, larger ones (weights) by size and mtime
MIN_COSINE = 0.95  # the least cosine to fp32 over CHECK_TEXTS of a quantised model kept
CHECK_TEXTS = (
    "We train the model with group relative policy optimization.",
    "Table 3: accuracy on GSM8K (%), MATH-500 and AIME 2024 for the 7B and 32B models.",
    "x",
    "Mixture-of-experts layers route each token to a few experts; " * 12,
)


class QuantisationRefused(RuntimeError):
    """A quantised model's vectors drifted too far from fp32's; it is not kept, and the refusal is remembered
    beside the export (``model-<variant>.failed``) so that it is not tried again with the same quantiser."""


def cache_root() -> Path:
    """Where exported models are kept: $XDG_CACHE_HOME/footnote/onnx (default ~/.cache/footnote/onnx)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "footnote" / "onnx"


def model_key(model_path: str | Path) -> str:
    """A short hash naming one export of one model folder with one onnxruntime."""
    root = Path(model_path)
    digest = hashlib.sha256(f"footnote-onnx-{CACHE_VERSION}|ort-{metadata.version('onnxruntime')}".encode())
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")):
        stat = path.stat()
        digest.update(str(path.relative_to(root)).encode())
        if stat.st_size <= _SMALL:
            digest.update(path.read_bytes())
        else:
            digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def read_model_config(model_path: str | Path) -> dict:
    """What the export and the embedder need from a sentence-transformers folder: pooling and max length."""
    root = Path(model_path)
    if not (root / "config.json").is_file() or not (root / "tokenizer.json").is_file():
        raise FileNotFoundError(
            f"{root}: the ONNX backends need a local model folder with config.json and tokenizer.json "
            "(set FOOTNOTE_EMBEDDING_BACKEND=torch for other models)"
        )
    pooling = "mean"
    modules = _json(root / "modules.json") or []
    for module in modules:
        if module.get("type", "").endswith("Pooling"):
            config = _json(root / module.get("path", "") / "config.json") or {}
            if config.get("pooling_mode_cls_token"):
                pooling = "cls"
            elif not config.get("pooling_mode_mean_tokens", True):
                raise ValueError(f"{root}: pooling {config} is not supported by the ONNX backends")
    max_len = (_json(root / "sentence_bert_config.json") or {}).get("max_seq_length")
    model_config = _json(root / "config.json") or {}
    max_len = int(max_len or min(512, model_config.get("max_position_embeddings", 512)))
    return {"pooling": pooling, "max_tokens": max_len, "model_type": model_config.get("model_type")}


def _json(path: Path) -> dict | list | None:
    return json.loads(path.read_text()) if path.is_file() else None


# ---------------------------------------------------------------------------------------------- building


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _write_atomic(target: Path, write) -> None:
    """Call write(tmp_path), then rename the temporary file to target (same folder, so the rename is atomic)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def ensure_model(model_path: str | Path, variant: Variant, cache_dir: Path | None = None) -> Path:
    """The cached ONNX file of this model and variant, built first if missing (needs torch only then)."""
    root = cache_dir or cache_root()
    folder = root / model_key(model_path)
    # the openvino-int8 variants are OpenVINO's own format (model-openvino-int8.xml, the weights in the .bin)
    target = folder / f"model-{variant}{'.xml' if variant.startswith('openvino') else '.onnx'}"
    if target.is_file():
        return target
    failed = target.with_suffix(".failed")  # a quantisation whose result was refused: not tried again
    refusal = _refusal(failed, variant)  # ... with the same quantiser (another version may quantise differently)
    if refusal is not None:
        raise RuntimeError(f"{refusal} (delete {failed} to try again)")
    if cache_dir is None and not _writable(root):  # a read-only home: build into the temp folder instead
        return ensure_model(model_path, variant, Path(tempfile.gettempdir()) / f"footnote-onnx-{os.getuid()}")
    with _locked(folder.parent / f"{folder.name}.lock"):
        if target.is_file():  # another process built it while we waited for the lock
            return target
        folder.mkdir(parents=True, exist_ok=True)
        print(
            f"footnote: exporting the embedding model to ONNX ({variant}{_QUANTISED.get(variant, '')}), "
            f"once per machine, into {folder}",
            file=sys.stderr,
            flush=True,
        )
        fp32 = folder / "model-fp32.onnx"
        if not fp32.is_file():
            _write_atomic(fp32, lambda tmp: _export_fp32(Path(model_path), Path(tmp)))
        try:
            if variant == "int8":
                _write_atomic(target, lambda tmp: _fuse_and_quantize(Path(model_path), fp32, Path(tmp)))
            elif variant in ("openvino-int8", "openvino-int8-attn"):
                from index.embed_openvino import quantize_int8

                quantize_int8(Path(model_path), fp32, target, attention=variant == "openvino-int8-attn")
        except QuantisationRefused as exc:
            package = _quantiser(variant)
            failed.write_text(json.dumps({"reason": str(exc), package: _version(package)}) + "\n")
            raise
        (folder / "source.json").write_text(json.dumps({"model": str(model_path), "version": CACHE_VERSION}))
    return target


def _quantiser(variant: Variant) -> str:
    """The package that quantises a variant: NNCF for OpenVINO's int8 models, onnxruntime for "int8"."""
    return "onnxruntime" if variant == "int8" else "nncf"


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _refusal(failed: Path, variant: Variant) -> str | None:
    """Why the quantisation recorded in ``failed`` was refused, if it was refused by the quantiser installed now
    (`_quantiser`); None when there is no record, or it came from another version of it (or an older footnote,
    which kept no version): that one is tried again, and replaces the record if it is refused too."""
    try:
        record = json.loads(failed.read_text())
    except (OSError, ValueError):
        return None
    package = _quantiser(variant)
    if not isinstance(record, dict) or record.get(package) != _version(package):
        return None
    return str(record.get("reason", "int8 quantisation was refused"))


def _writable(root: Path) -> bool:
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(root, os.W_OK)


def _export_fp32(model_path: Path, out: Path) -> None:
    """torch.onnx export of transformer + pooling + normalisation (the one place torch is imported)."""
    import torch
    import transformers
    from transformers import AutoModel

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()

    config = read_model_config(model_path)
    model = AutoModel.from_pretrained(str(model_path), attn_implementation="eager").eval()
    wrapper = _pooled(model, config["pooling"], "token_type_ids" in _forward_args(model))
    texts = ["a", "A longer sentence so that the batch has padding.", "Qwen2.5-7B scores 83.1% on GSM8K."]
    feed = _tokenize(model_path, texts, config["max_tokens"])
    sample = tuple(torch.from_numpy(feed[name]) for name in INPUTS)
    # The check runs on other shapes than the traced ones (a trace that froze a shape fails it); its torch side
    # is computed first because exporting leaves the transformers model in a state that gives other results.
    check = _tokenize(model_path, [*CHECK_TEXTS, texts[1]], config["max_tokens"])
    with torch.no_grad(), warnings.catch_warnings():
        expected = wrapper(*(torch.from_numpy(check[name]) for name in INPUTS)).numpy()
        warnings.simplefilter("ignore")  # tracer warnings about shapes; the check below is what counts
        torch.onnx.export(
            wrapper,
            sample,
            str(out),
            dynamo=False,
            input_names=list(INPUTS),
            output_names=["embeddings"],
            dynamic_axes={**{n: {0: "batch", 1: "sequence"} for n in INPUTS}, "embeddings": {0: "batch"}},
            opset_version=17,
            do_constant_folding=True,
        )
    got = _run(out, check)
    agreement = float(np.min(np.sum(got * expected, axis=1)))
    if agreement < 0.9999:  # the trace went wrong (a transformers change, say): refuse rather than cache it
        raise RuntimeError(f"ONNX export of {model_path} disagrees with torch (cosine {agreement:.5f})")


def _forward_args(model) -> set[str]:
    import inspect

    return set(inspect.signature(model.forward).parameters)


def _pooled(model, pooling: str, use_token_types: bool):
    """The transformer followed by pooling and L2 normalisation, as one torch module (torch imported here)."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self, model, pooling: str, use_token_types: bool) -> None:
            super().__init__()
            self.model, self.pooling, self.use_token_types = model, pooling, use_token_types

        def forward(self, input_ids, attention_mask, token_type_ids):
            kwargs = {"token_type_ids": token_type_ids} if self.use_token_types else {}
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask, **kwargs).last_hidden_state
            if self.pooling == "cls":
                pooled = hidden[:, 0]
            else:
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    return Pooled(model, pooling, use_token_types)


def _fuse_and_quantize(model_path: Path, fp32: Path, out: Path) -> None:
    """onnxruntime's BERT fusions (BERT-like models only), then dynamic int8 quantisation (see the module doc)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model_config = _json(model_path / "config.json") or {}
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".quantize-") as tmp:
        source = fp32
        if model_config.get("model_type") in ("bert", "roberta", "xlm-roberta"):
            from onnxruntime.transformers.optimizer import optimize_model

            fused = optimize_model(
                str(fp32),
                model_type="bert",
                num_heads=int(model_config.get("num_attention_heads", 0)),
                hidden_size=int(model_config.get("hidden_size", 0)),
                opt_level=1,
                use_gpu=False,
            )
            source = Path(tmp) / "fused.onnx"
            fused.save_model_to_file(str(source))
        logging.disable(logging.WARNING)  # quantize_dynamic's advice to pre-process, on the root logger
        try:
            quantize_dynamic(
                str(source),
                str(out),
                op_types_to_quantize=["MatMul", "Attention"],
                per_channel=True,
                reduce_range=False,
                weight_type=QuantType.QInt8,
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT, "MatMulConstBOnly": True},
            )
        finally:
            logging.disable(logging.NOTSET)
    sample = _tokenize(model_path, CHECK_TEXTS, read_model_config(model_path)["max_tokens"])
    agreement = float(np.min(np.sum(_run(out, sample) * _run(fp32, sample), axis=1)))
    if agreement < MIN_COSINE:
        raise QuantisationRefused(f"int8 quantisation of {model_path} went wrong (cosine to fp32 {agreement:.3f})")


def _tokenize(model_path: Path, texts: Sequence[str], max_tokens: int) -> dict[str, np.ndarray]:
    tokenizer = load_tokenizer(str(model_path), max_tokens)
    return _pad(token_ids(tokenizer, texts))


def _run(path: Path, feed: dict[str, np.ndarray]) -> np.ndarray:
    session = _session(str(path), 1)
    names = [i.name for i in session.get_inputs()]
    return session.run(None, {n: feed[n] for n in names})[0]


# ---------------------------------------------------------------------------------------------- running


@functools.cache
def load_tokenizer(model_path: str, max_tokens: int | None):
    """The model's fast tokenizer: truncating to max_tokens (special tokens included), or not at all."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(model_path) / "tokenizer.json"))
    tokenizer.no_padding()
    if max_tokens:
        tokenizer.enable_truncation(max_length=max_tokens)
    else:
        tokenizer.no_truncation()
    return tokenizer


def _pad(ids: Sequence[Sequence[int]]) -> dict[str, np.ndarray]:
    width = max(len(x) for x in ids)
    input_ids = np.zeros((len(ids), width), dtype=np.int64)
    mask = np.zeros_like(input_ids)
    for row, seq in enumerate(ids):
        input_ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    return {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}


def cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _session(path: str, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def batches(order: Sequence[int], lengths: Sequence[int], max_texts: int, max_tokens: int) -> Iterator[list[int]]:
    """Consecutive runs of `order` (indices sorted by length) with at most max_texts texts and at most
    max_tokens padded tokens (texts x longest length); a single text always makes a batch."""
    batch: list[int] = []
    for i in order:
        if batch and (len(batch) >= max_texts or (len(batch) + 1) * lengths[i] > max_tokens):
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch


class BatchedEmbedder:
    """Tokenise (truncating at the model's max length, 256 for the default model), sort by length, batch so
    that padding stays small, run the exported graph, L2-normalise. Subclasses supply `_load` and `_infer`;
    the model is exported (if needed) and loaded on the first `embed`, so a tokenizer-only user never pays.

    A batch holds at most `batch_size` texts and at most `max_batch_tokens` padded tokens: 16 texts of 256
    tokens. Bigger batches of long texts are slower on CPU, not faster (their attention scores outgrow the
    caches): on 2 cores OpenVINO embeds about 2.3x more 200-token chunks per second in batches of 16 than of
    64 (bench/embed.py --batch)."""

    backend = ""
    max_batch_tokens = 4096
    per_text = False  # each text a run of its own, longest first (OnnxEmbedder), not batches
    # The backend whose fp32 export, on the same runtime, runs where this one's int8 model cannot be built; set
    # where "auto" chose the int8 backend (`_model_file`).
    fallback: str | None = None

    def __init__(
        self,
        model: str,
        model_path: str,
        batch_size: int = 64,
        *,
        cache_dir: Path | None = None,
        threads: int | None = None,
    ) -> None:
        self.name = f"{model}#{self.backend}"
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self.threads = threads or cpu_count()
        self.model_path = model_path
        self.model_file: Path | None = None  # the export, once found (_model_file)
        self.max_tokens = read_model_config(model_path)["max_tokens"]
        self._tokenizer = load_tokenizer(model_path, self.max_tokens)
        self._loaded = False
        self._lock = threading.Lock()  # one model run at a time (an OpenVINO infer request is not thread-safe)

    def _load(self) -> None:
        raise NotImplementedError

    def _infer(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def _run(self, jobs: Iterator[tuple[list[int], dict[str, np.ndarray]]], out: np.ndarray) -> None:
        """Embed each (rows, feed) batch into out[rows]; a backend with parallel requests overrides this."""
        for rows, feed in jobs:
            out[rows] = self._infer(feed)

    def prepare(self) -> None:
        """What loading does in Python: import the runtime and build the export if it is missing (the rest of
        `load`, compiling the model, is native code that may run on another thread)."""
        self._import_runtime()
        self._model_file()

    def _model_file(self) -> Path:
        """The cached export this backend runs, exported first if missing (found once: its key hashes files).
        Where the int8 model cannot be built (its quantiser missing or failing, or its result refused, which
        ensure_model remembers) and `fallback` names a backend, that backend's fp32 export runs instead."""
        if self.model_file is None:
            try:
                self.model_file = ensure_model(self.model_path, self.variant, self.cache_dir)
            except Exception as exc:
                if self.fallback is None:
                    raise
                print(
                    f"footnote: {exc}; embedding with the {self.fallback} backend instead", file=sys.stderr, flush=True
                )
                self.backend, self.variant, self.fallback = self.fallback, "fp32", None
                self.name = f"{self.name.rpartition('#')[0]}#{self.backend}"
                self.model_file = ensure_model(self.model_path, self.variant, self.cache_dir)
        return self.model_file

    def _import_runtime(self) -> None:
        raise NotImplementedError

    def load(self) -> None:
        """Export (first use on this machine) and load the model now rather than on the first embed."""
        with self._lock:
            if not self._loaded:
                self._load()
                self._loaded = True

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.load()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        ids = token_ids(self._tokenizer, texts)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        out = np.empty((len(ids), self.dimension), dtype=np.float32)
        if self.per_text:
            groups: Iterator[list[int]] = iter([[i] for i in reversed(order)])  # longest first: even ends
        else:
            groups = batches(order, [len(x) for x in ids], self.batch_size, self.max_batch_tokens)
        with self._lock:
            self._run(((rows, _pad([ids[i] for i in rows])) for rows in groups), out)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        # The untruncated tokenizer is loaded on the first count (ingest's chunking), not by every query process.
        counter = load_tokenizer(self.model_path, None)
        return [len(ids) for ids in token_ids(counter, texts, special=False)]


class OnnxEmbedder(BatchedEmbedder):
    """The exported model on onnxruntime, fp32 ("onnx") or int8 ("onnx-int8"), on all of the process's cores.
    With ``fallback`` (int8 chosen by "auto"), a model that cannot be quantised is run in fp32 instead.

    Each text is a run of its own, and the runs go to one single-threaded session from as many threads as there
    are cores. The int8 model quantises a product's input with one range for the whole run, so in a batch a text's
    vector depended on the texts beside it (cosine down to 0.986 against the same text alone) and a query, always
    alone, was embedded unlike the chunks; alone, a text gets the same vector in any company. It is faster too:
    onnxruntime parallelises one run's small products over two cores less well than two runs over one core each
    (2 cores, AMD Zen 3, 512 chunks of 200 tokens, four rounds interleaved: int8 57.5-60.7 chunks/s against 52.7-54.8
    in batches, fp32 40.4-41.0 against 34.7-36.0). A query embeds on one core: 3.7 ms against 2.4 ms."""

    per_text = True

    def __init__(
        self,
        model: str,
        model_path: str,
        variant: Variant = "int8",
        batch_size: int = 64,
        *,
        fallback: bool = False,
        **kw,
    ) -> None:
        self.variant = variant
        self.backend = "onnx-int8" if variant == "int8" else "onnx"
        self.fallback = "onnx" if fallback and variant == "int8" else None
        super().__init__(model, model_path, batch_size, **kw)

    def _import_runtime(self) -> None:
        import onnxruntime  # noqa: F401

    def _load(self) -> None:
        self._session = _session(str(self._model_file()), 1)
        self._inputs = [i.name for i in self._session.get_inputs()]
        self.dimension = int(self._session.get_outputs()[0].shape[-1])

    def _infer(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        return self._session.run(None, {name: feed[name] for name in self._inputs})[0]

    def _run(self, jobs: Iterator[tuple[list[int], dict[str, np.ndarray]]], out: np.ndarray) -> None:
        """The runs on `threads` threads at once (a session runs concurrently, releasing the GIL); one run (a
        query) on the calling thread."""
        runs = list(jobs)  # one text each: small
        if self.threads <= 1 or len(runs) <= 1:
            return super()._run(iter(runs), out)
        from concurrent.futures import ThreadPoolExecutor

        def run(job: tuple[list[int], dict[str, np.ndarray]]) -> None:
            rows, feed = job
            out[rows] = self._infer(feed)

        with ThreadPoolExecutor(self.threads, thread_name_prefix="footnote-embed") as pool:
            list(pool.map(run, runs))
