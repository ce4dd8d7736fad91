"""The exported model (index.embed_onnx's ``model-fp32.onnx``) on OpenVINO, as exported or int8-quantised: the
default embedding backend ("auto" picks one of the two, except on CPUs with AVX2 but no int8 dot-product units,
where onnxruntime's int8 is faster: index.embed.resolve_backend).

On CPUs with AMX tiles (Sapphire Rapids and later) OpenVINO runs the exported model in bf16: about 2.5x
onnxruntime int8 per core, 4x torch fp32, and practically exact (cosine to torch fp32 above 0.9999); so it does
on AMD's AVX-512 BF16 (Zen 4), 1.85x fp32 there. On other CPUs it runs in fp32, including Intel ones with
AVX-512 BF16 but no AMX, where OpenVINO's bf16 kernels were 1.6x slower than its fp32 ones
(`inference_precision`). The int8 model (`OpenVinoInt8Embedder`, cosine 0.993) is faster still where the CPU
has int8 dot-product units: 1.39x bf16 on a Zen 4 (AVX-512 VNNI), 1.10-1.14x on an Emerald Rapids (AMX), and
slower than fp32 on a Zen 3 (AVX2 only: 0.86x, 2026-12-07). The model runs as one stream per core, batches in
parallel (a query, one batch, runs on one stream). OpenVINO's compiled-model cache sits next to the export
(``<key>/openvino/``), so a fresh process loads the compiled blob instead of compiling again.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from index import embed
from index.embed_onnx import MIN_COSINE, BatchedEmbedder, QuantisationRefused

# CPU flags (Linux's names) of AMX, bf16 and int8 matrix tiles: where bf16 pays most, and where attention's
# products stay out of int8 quantisation (see `inference_precision` and `OpenVinoInt8Embedder`).
AMX_BF16, AMX_INT8 = "amx_bf16", "amx_int8"


def inference_precision(flags: frozenset[str], capabilities: Sequence[str], vendor: str = "") -> str:
    """OpenVINO's precision for what the model does not run in int8: bf16 where it was measured to pay, fp32
    elsewhere. It pays on AMX tiles, and on AMD's AVX-512 BF16 (Zen 4: bf16 1.85x fp32). An Intel CPU with
    AVX-512 BF16 but no AMX (the tiles hidden by a virtual machine, or a Cooper Lake) is the other way round: on
    a Xeon of family 6, model 207 the fp32 export ran 1.6x faster in fp32 than in bf16 (OpenVINO 2026.4, one
    stream, 16 x 200 tokens), and the int8 model's other parts 1.05x. Where the flags are unknown (no
    /proc/cpuinfo), OpenVINO's own BF16 capability decides."""
    if not flags:
        return "bf16" if "BF16" in capabilities else "f32"
    if AMX_BF16 in flags or ("avx512_bf16" in flags and vendor == "AuthenticAMD"):
        return "bf16"
    return "f32"


class OpenVinoEmbedder(BatchedEmbedder):
    backend = "openvino"
    variant = "fp32"  # the export it compiles (in bf16 where the CPU has it)

    def __init__(self, model: str, model_path: str, batch_size: int = 64, **kw) -> None:
        super().__init__(model, model_path, batch_size, **kw)
        self.precision: str | None = None

    def _import_runtime(self) -> None:
        import_openvino()

    def _load(self) -> None:
        import openvino as ov

        self._model_file()
        core = ov.Core()
        capabilities = core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
        self.precision = inference_precision(embed.cpu_flags(), capabilities, embed.cpu_vendor())
        # One stream (infer request) per core, each on one thread: batches run side by side, which on 2 cores
        # embeds about 1.2x more chunks per second than one request spread over both (bench/embed.py).
        config = {
            "PERFORMANCE_HINT": "THROUGHPUT",
            "NUM_STREAMS": self.threads,
            "INFERENCE_NUM_THREADS": self.threads,
            "INFERENCE_PRECISION_HINT": self.precision,
        }
        try:
            core.set_property({"CACHE_DIR": str(Path(self.model_file).parent / "openvino")})
            compiled = core.compile_model(str(self.model_file), "CPU", config)
        except RuntimeError:  # an unreadable or unwritable compiled-model cache: compile without it
            core = ov.Core()
            compiled = core.compile_model(str(self.model_file), "CPU", config)
        self._request = compiled.create_infer_request()
        self._queue = ov.AsyncInferQueue(compiled, self.threads)
        self._inputs = [name for name in ("input_ids", "attention_mask", "token_type_ids") if _has(compiled, name)]
        self.dimension = int(compiled.outputs[0].get_partial_shape()[1].get_length())

    def _infer(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        self._request.infer({name: feed[name] for name in self._inputs})
        return self._request.get_output_tensor(0).data.copy()

    def _run(self, jobs: Iterator[tuple[list[int], dict[str, np.ndarray]]], out: np.ndarray) -> None:
        """Keep every stream busy: the next batch is padded while the previous ones run."""
        first = next(jobs, None)
        if first is None:
            return
        second = next(jobs, None)
        if second is None:  # one batch (a query): no queue
            out[first[0]] = self._infer(first[1])
            return

        def done(request, rows: list[int]) -> None:
            out[rows] = request.get_output_tensor(0).data

        self._queue.set_callback(done)
        for rows, feed in itertools.chain((first, second), jobs):
            self._queue.start_async({name: feed[name] for name in self._inputs}, rows)
        self._queue.wait_all()


class OpenVinoInt8Embedder(OpenVinoEmbedder):
    """The export statically quantised to int8 by NNCF (`quantize_int8`), on OpenVINO: its matrix products run
    on the CPU's int8 units (AMX-INT8 or AVX-512 VNNI), the rest in bf16 or fp32 as for "openvino".

    Which products: on CPUs with AMX, those of the layers (variant "openvino-int8"; attention's own products,
    queries by keys and weights by values, stay in bf16, where quantising them was measured slower). On the
    others every one NNCF quantises, attention's queries-by-keys included (variant "openvino-int8-attn"): 1.05x
    the chunks per second on a Zen 4, 1.09-1.13x on a Xeon without AMX (1.19x there with fp32 for the rest,
    `inference_precision`), with the same agreement with fp32 (mean cosine 0.9928 against 0.9929 over 512
    real chunks). Each variant is its own file in the cache."""

    backend = "openvino-int8"
    variant = "openvino-int8"

    def __init__(
        self,
        model: str,
        model_path: str,
        batch_size: int = 64,
        *,
        fallback: bool = False,
        flags: frozenset[str] | None = None,
        **kw,
    ) -> None:
        super().__init__(model, model_path, batch_size, **kw)
        # chosen by "auto": where the int8 model cannot be built, run "openvino" (BatchedEmbedder._model_file)
        self.fallback = OpenVinoEmbedder.backend if fallback else None
        flags = embed.cpu_flags() if flags is None else flags
        self.variant = "openvino-int8" if AMX_INT8 in flags else "openvino-int8-attn"


# The products of queries with keys and of attention weights with values: left in bf16 on CPUs with AMX, where
# the recipe was chosen (quantising them too was measured slower there); the names are those of the
# transformers BERT export, and a model without them simply has every MatMul quantised.
ATTENTION_MATMULS = r".*/attention/self/MatMul(_\d+)?$"


def quantize_int8(model_path: Path, fp32: Path, target: Path, batch: int = 8, *, attention: bool = False) -> None:
    """Quantise the fp32 export with NNCF's post-training quantisation, calibrated on index.calibration's
    texts, and write it as target (.xml, with its .bin) atomically: the .bin is in place before the .xml, whose
    presence is what marks the model built. Attention's own products (ATTENTION_MATMULS) are quantised only with
    `attention`. Refuses a result whose vectors drift from fp32's (cosine under MIN_COSINE), with
    QuantisationRefused.

    The recipe is the one with the smallest worst case over 512 real chunks (bench/embed.py's), cosine to fp32:
    the MIXED preset (int8 weights symmetric per channel, activations asymmetric), no SmoothQuant: mean 0.993,
    1st percentile 0.984, min 0.979. The PERFORMANCE preset (symmetric activations) with SmoothQuant, NNCF's
    default for transformers: mean 0.994 but 1st percentile 0.967 and min 0.915."""
    import tempfile

    import openvino as ov

    try:
        import nncf
    except ImportError as exc:
        raise RuntimeError(
            "the openvino-int8 embedding backend quantises the model once with NNCF, which is not installed: "
            "pip install nncf (or choose another backend)"
        ) from exc
    from index.calibration import calibration_texts
    from index.embed_onnx import CHECK_TEXTS, _tokenize, read_model_config

    max_tokens = read_model_config(model_path)["max_tokens"]
    core = ov.Core()
    model = core.read_model(str(fp32))
    names = {name for port in model.inputs for name in port.get_names()}

    def feed(texts) -> dict[str, np.ndarray]:
        return {name: value for name, value in _tokenize(model_path, texts, max_tokens).items() if name in names}

    texts = sorted(calibration_texts(), key=len)
    feeds = [feed(texts[i : i + batch]) for i in range(0, len(texts), batch)]
    nncf.set_log_level(logging.ERROR)
    # NNCF draws rich progress bars on sys.stdout, where footnote's results go: they are kept off it.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        quantized = nncf.quantize(
            model,
            nncf.Dataset(feeds),
            model_type=nncf.ModelType.TRANSFORMER,
            preset=nncf.QuantizationPreset.MIXED,
            subset_size=len(feeds),
            ignored_scope=nncf.IgnoredScope(patterns=[] if attention else [ATTENTION_MATMULS], validate=False),
            advanced_parameters=nncf.AdvancedQuantizationParameters(
                smooth_quant_alphas=nncf.AdvancedSmoothQuantParameters(matmul=-1.0)
            ),
        )
    check = feed(list(CHECK_TEXTS))
    exact = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    approx = core.compile_model(quantized, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    want, got = (m(check)[m.outputs[0]] for m in (exact, approx))  # the graph ends in L2 normalisation
    agreement = float(np.min(np.sum(want * got, axis=1)))
    if agreement < MIN_COSINE:
        raise QuantisationRefused(f"int8 quantisation of {model_path} went wrong (cosine to fp32 {agreement:.3f})")
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".quantize-") as tmp:
        staged = Path(tmp) / target.name
        ov.save_model(quantized, str(staged), compress_to_fp16=False)
        os.replace(staged.with_suffix(".bin"), target.with_suffix(".bin"))
        os.replace(staged, target)


CONVERTER = "openvino.tools.ovc"


def import_openvino() -> None:
    """``import openvino`` without its model converter. The package's ``__init__`` imports ``convert_model`` from
    openvino.tools.ovc inside ``try: ... except ImportError`` (the converter is optional), and that import, with
    the converter's telemetry, is about a third of the package's import: 50-80 ms of a fresh `footnote cite`
    (bench/cite_latency.py). footnote never converts with it (the export is torch.onnx's), so the converter is
    kept out while the package initialises, then unblocked: ``from openvino.tools.ovc import convert_model``
    still works afterwards. An OpenVINO whose ``__init__`` needs the converter is imported again, whole."""
    if "openvino" in sys.modules:
        return
    blocked = CONVERTER not in sys.modules
    if blocked:
        sys.modules[CONVERTER] = None  # type: ignore[assignment]  # Python's way to make an import fail
    try:
        import openvino

        return
    except ImportError:
        if not blocked:
            raise
    finally:
        if blocked and sys.modules.get(CONVERTER, False) is None:
            del sys.modules[CONVERTER]
    for name in [n for n in sys.modules if n == "openvino" or n.startswith("openvino.")]:
        del sys.modules[name]
    import openvino  # noqa: F401


def _has(compiled, name: str) -> bool:
    return any(name in port.get_names() for port in compiled.inputs)
