"""The default embedding backend, "auto": OpenVINO's int8 on CPUs with int8 dot-product units, onnxruntime's int8
on other x86 CPUs with AVX2, else OpenVINO bf16/fp32."""

from __future__ import annotations

import json
import sys
from importlib import metadata
from pathlib import Path

import pytest

from footnote.settings import Settings
from index import embed
from index.embed import BUNDLED, cpu_flags, default_embedder, resolve_backend

# Flag lines copied from /proc/cpuinfo on this project's machines (shortened to the relevant part).
ZEN3 = "fpu vme sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi2 sha_ni vaes vpclmulqdq"
ZEN4 = "fpu sse sse2 avx avx2 avx512f avx512dq avx512bw avx512vl avx512_bf16 avx512vbmi avx512_vnni"
EMERALD_RAPIDS = "fpu avx2 avx512f avx512bw avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8"
XEON_NO_AMX = "fpu avx2 avx512f avx512bw avx512_vnni avx512_bf16 avx512_fp16"  # family 6 model 207 in a VM


def cpuinfo(tmp_path: Path, flags: str, vendor: str = "AuthenticAMD") -> Path:
    file = tmp_path / "cpuinfo"
    processor = f"processor\t: {{n}}\nvendor_id\t: {vendor}\nflags\t\t: {flags}\nbugs\t\t: sysret_ss_attrs\n\n"
    file.write_text(processor.format(n=0) + processor.format(n=1))
    return file


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (ZEN3, "onnx-int8"),  # AVX2 only: onnxruntime's int8 1.42x OpenVINO's fp32, OpenVINO's int8 0.86x
        (ZEN4, "openvino-int8"),
        (EMERALD_RAPIDS, "openvino-int8"),
        (XEON_NO_AMX, "openvino-int8"),
        ("fpu sse sse2 ssse3 sse4_1 sse4_2 avx", "openvino"),  # no AVX2: nothing measured, OpenVINO's fp32
        ("", "openvino"),  # flags unknown (not Linux, or not x86)
    ],
)
def test_auto_picks_int8_where_it_was_measured_faster(tmp_path, flags, expected):
    assert resolve_backend("auto", cpu_flags(cpuinfo(tmp_path, flags))) == expected


def test_an_explicit_backend_is_kept_whatever_the_cpu():
    for backend in ("openvino", "openvino-int8", "onnx-int8", "onnx", "torch"):
        assert resolve_backend(backend, frozenset()) == backend
        assert resolve_backend(backend, frozenset({"avx512_vnni"})) == backend


def test_auto_without_nncf_stays_on_openvino(monkeypatch):
    monkeypatch.setitem(sys.modules, "nncf", None)  # as if not installed
    assert resolve_backend("auto", frozenset({"avx512_vnni", "amx_int8"})) == "openvino"
    assert resolve_backend("auto", frozenset({"avx2"})) == "onnx-int8"  # NNCF is OpenVINO's quantiser only


def test_auto_without_onnxruntime_stays_on_openvino(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert resolve_backend("auto", frozenset({"avx2"})) == "openvino"


def test_no_cpuinfo_means_no_flags(tmp_path):
    assert cpu_flags(tmp_path / "missing") == frozenset()
    (tmp_path / "odd").write_text("processor : 0\nmodel name : something\n")
    assert cpu_flags(tmp_path / "odd") == frozenset()


def test_this_machine_resolves_to_a_concrete_backend():
    flags = cpu_flags()
    expected = "openvino-int8" if flags & embed.INT8_FLAGS else "onnx-int8" if "avx2" in flags else "openvino"
    assert resolve_backend("auto") == expected


def test_auto_is_the_default_and_names_what_it_chose(tmp_path, monkeypatch):
    monkeypatch.delenv("FOOTNOTE_EMBEDDING_BACKEND")  # pinned for the other tests (conftest.py)
    assert Settings(home=tmp_path).index.embedding_backend == "auto"
    monkeypatch.setenv("FOOTNOTE_EMBEDDING_BACKEND", "auto")
    assert Settings(home=tmp_path).index.embedding_backend == "auto"
    assert default_embedder(BUNDLED, 64, "auto").name == f"{BUNDLED}#{resolve_backend('auto')}"


def _cache_with_the_fp32_export(tmp_path: Path) -> Path:
    """A cache folder holding only the fp32 export (linked, not exported again)."""
    from index import embed_onnx

    source = embed_onnx.ensure_model(embed.resolve_model_path(BUNDLED), "fp32")
    folder = tmp_path / source.parent.name
    folder.mkdir()
    (folder / source.name).symlink_to(source)
    return folder


def _refusing_quantisation(monkeypatch, reason: str) -> list:
    """A CPU with VNNI (so that "auto" picks openvino-int8) whose NNCF result is always refused for ``reason``;
    the list records each quantisation tried."""
    from index import embed_openvino

    monkeypatch.setattr(embed, "cpu_flags", lambda: frozenset({"avx512_vnni"}))
    calls = []

    def refused(*args, **kwargs):
        calls.append(args)
        raise embed_openvino.QuantisationRefused(reason)

    monkeypatch.setattr(embed_openvino, "quantize_int8", refused)
    return calls


def _stays_fallen_back(tmp_path, capfd, vector, calls: list, fp32: str, int8: str, reason: str) -> None:
    """After "auto" fell back from ``int8`` to ``fp32`` (a backend name each), with ``vector`` embedded then: the
    vector is the fp32 backend's, a later "auto" embeds with it too without quantising again (saying how to try
    again), and an explicit ``int8`` fails with the refusal's ``reason`` (a pattern)."""
    plain = embed.make_embedder(BUNDLED, 64, fp32)
    plain.cache_dir = tmp_path
    assert (vector @ plain.embed(["sparse attention over blocks of the context"]).T).item() > 0.9999

    again = embed.make_embedder(BUNDLED, 64, "auto")
    again.cache_dir = tmp_path
    again.embed(["x"])
    assert len(calls) == 1 and again.name == f"{BUNDLED}#{fp32}"
    assert "delete" in capfd.readouterr().err

    explicit = embed.make_embedder(BUNDLED, 64, int8)
    explicit.cache_dir = tmp_path
    with pytest.raises(RuntimeError, match=reason):
        explicit.embed(["x"])


def test_auto_falls_back_to_openvino_where_int8_cannot_be_built(tmp_path, monkeypatch, capfd):
    """A quantised model refused (its vectors drifted from fp32's) is remembered beside the export; "auto" then
    embeds with openvino, says so once per process, and does not quantise again; an explicit openvino-int8
    fails with the reason."""
    folder = _cache_with_the_fp32_export(tmp_path)
    calls = _refusing_quantisation(monkeypatch, "int8 quantisation went wrong (cosine to fp32 0.412)")
    auto = embed.make_embedder(BUNDLED, 64, "auto")
    auto.cache_dir = tmp_path
    vector = auto.embed(["sparse attention over blocks of the context"])
    assert auto.name == f"{BUNDLED}#openvino" and len(calls) == 1
    assert "cosine to fp32 0.412" in capfd.readouterr().err
    # no int8 model, the refusal, and OpenVINO's compiled-model cache of the fp32 export
    refusal = "model-openvino-int8-attn.failed"  # the variant of a CPU without AMX
    assert sorted(p.name for p in folder.iterdir()) == ["model-fp32.onnx", refusal, "openvino"]

    _stays_fallen_back(tmp_path, capfd, vector, calls, "openvino", "openvino-int8", r"cosine to fp32 0\.412")


def test_auto_falls_back_to_fp32_onnx_where_onnxruntime_int8_cannot_be_built(tmp_path, monkeypatch, capfd):
    """On an AVX2 CPU "auto" picks onnx-int8; a quantised model refused is remembered with onnxruntime's
    version, "auto" embeds with the fp32 export on onnxruntime and does not quantise again, and an explicit
    onnx-int8 fails with the reason."""
    from index import embed_onnx

    folder = _cache_with_the_fp32_export(tmp_path)
    monkeypatch.setattr(embed, "cpu_flags", lambda: frozenset({"avx2", "fma"}))
    calls = []

    def refused(model_path, fp32, out):
        calls.append(out)
        raise embed_onnx.QuantisationRefused("int8 quantisation went wrong (cosine to fp32 0.321)")

    monkeypatch.setattr(embed_onnx, "_fuse_and_quantize", refused)
    auto = embed.make_embedder(BUNDLED, 64, "auto")
    auto.cache_dir = tmp_path
    assert auto.name == f"{BUNDLED}#onnx-int8"
    vector = auto.embed(["sparse attention over blocks of the context"])
    assert auto.name == f"{BUNDLED}#onnx" and len(calls) == 1
    assert "cosine to fp32 0.321" in capfd.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == ["model-fp32.onnx", "model-int8.failed"]
    record = json.loads((folder / "model-int8.failed").read_text())
    assert record == {
        "reason": "int8 quantisation went wrong (cosine to fp32 0.321)",
        "onnxruntime": metadata.version("onnxruntime"),
    }

    _stays_fallen_back(tmp_path, capfd, vector, calls, "onnx", "onnx-int8", r"cosine to fp32 0\.321")


@pytest.mark.parametrize("record", ['{"reason": "went wrong (cosine to fp32 0.412)", "nncf": "0.0.1"}', "went wrong\n"])
def test_a_refusal_by_another_nncf_is_tried_again(tmp_path, monkeypatch, record):
    """The refusal is NNCF's: after an upgrade (or from a footnote that kept no version) the quantisation is tried
    again, and its new refusal replaces the record."""
    folder = _cache_with_the_fp32_export(tmp_path)
    (folder / "model-openvino-int8-attn.failed").write_text(record)
    calls = _refusing_quantisation(monkeypatch, "int8 quantisation went wrong (cosine to fp32 0.5)")
    auto = embed.make_embedder(BUNDLED, 64, "auto")
    auto.cache_dir = tmp_path
    auto.embed(["x"])
    assert len(calls) == 1 and auto.name == f"{BUNDLED}#openvino"
    kept = json.loads((folder / "model-openvino-int8-attn.failed").read_text())
    assert kept == {"reason": "int8 quantisation went wrong (cosine to fp32 0.5)", "nncf": metadata.version("nncf")}


@pytest.mark.parametrize(
    ("cpu", "vendor", "capabilities", "expected"),
    [
        (EMERALD_RAPIDS, "GenuineIntel", ["FP32", "BF16", "INT8"], "bf16"),  # AMX tiles
        (ZEN4, "AuthenticAMD", ["FP32", "BF16", "INT8"], "bf16"),  # AVX-512 BF16 at twice fp32's rate
        (XEON_NO_AMX, "GenuineIntel", ["FP32", "BF16", "INT8"], "f32"),  # AVX-512 BF16 slower than fp32
        (ZEN3, "AuthenticAMD", ["FP32", "INT8"], "f32"),
        ("", "", ["FP32", "BF16"], "bf16"),  # nothing known: OpenVINO's capability decides
        ("", "", ["FP32"], "f32"),
    ],
)
def test_openvino_runs_bf16_only_where_it_pays(tmp_path, cpu, vendor, capabilities, expected):
    from index.embed import cpu_vendor
    from index.embed_openvino import inference_precision

    file = cpuinfo(tmp_path, cpu, vendor)
    assert cpu_vendor(file) == vendor
    assert inference_precision(cpu_flags(file), capabilities, cpu_vendor(file)) == expected


def test_the_loaded_model_runs_at_the_precision_chosen_for_this_cpu():
    import openvino as ov

    from index.embed_openvino import inference_precision

    embedder = embed.make_embedder(BUNDLED, 64, "openvino")
    embedder.embed(["x"])
    capabilities = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    expected = inference_precision(cpu_flags(), capabilities, embed.cpu_vendor())
    compiled = embedder._request.get_compiled_model().get_property("INFERENCE_PRECISION_HINT")
    assert embedder.precision == expected and compiled == {"bf16": ov.Type.bf16, "f32": ov.Type.f32}[expected]
