"""The exported model (index.embed_onnx's ``model-fp32.onnx``) on OpenVINO: the default embedding backend.

On CPUs with bf16 matrix units (AMX, or AVX-512 BF16: Sapphire Rapids and later) OpenVINO runs the model in
bf16, which here is both the fastest option measured (about 2.5x onnxruntime int8 per core, 4x torch fp32) and
practically exact (cosine to torch fp32 above 0.9999, where int8 gives about 0.993). On other CPUs it runs in
fp32. The model runs as one stream per core, batches in parallel (a query, one batch, runs on one stream).
OpenVINO's compiled-model cache sits next to the export (``<key>/openvino/``), so a fresh process loads the
compiled blob instead of compiling again.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from index.embed_onnx import BatchedEmbedder


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
        self.precision = "bf16" if "BF16" in capabilities else "f32"
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
