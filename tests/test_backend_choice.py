"""The default embedding backend, "auto": int8 on CPUs with int8 dot-product units, else OpenVINO bf16/fp32."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from footnote.settings import Settings
from index import embed
from index.embed import BUNDLED, cpu_flags, default_embedder, resolve_backend

# Flag lines copied from /proc/cpuinfo on this project's machines (shortened to the relevant part).
ZEN3 = "fpu vme sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi2 sha_ni vaes vpclmulqdq"
ZEN4 = "fpu sse sse2 avx avx2 avx512f avx512dq avx512bw avx512vl avx512_bf16 avx512vbmi avx512_vnni"
EMERALD_RAPIDS = "fpu avx2 avx512f avx512bw avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8"


def cpuinfo(tmp_path: Path, flags: str) -> Path:
    file = tmp_path / "cpuinfo"
    processor = f"processor\t: {{n}}\nvendor_id\t: AuthenticAMD\nflags\t\t: {flags}\nbugs\t\t: sysret_ss_attrs\n\n"
    file.write_text(processor.format(n=0) + processor.format(n=1))
    return file


@pytest.mark.parametrize(
    ("flags", "expected"),
    [(ZEN3, "openvino"), (ZEN4, "openvino-int8"), (EMERALD_RAPIDS, "openvino-int8"), ("", "openvino")],
)
def test_auto_picks_int8_only_where_the_cpu_has_int8_units(tmp_path, flags, expected):
    assert resolve_backend("auto", cpu_flags(cpuinfo(tmp_path, flags))) == expected


def test_an_explicit_backend_is_kept_whatever_the_cpu():
    for backend in ("openvino", "openvino-int8", "onnx-int8", "onnx", "torch"):
        assert resolve_backend(backend, frozenset()) == backend
        assert resolve_backend(backend, frozenset({"avx512_vnni"})) == backend


def test_auto_without_nncf_stays_on_openvino(monkeypatch):
    monkeypatch.setitem(sys.modules, "nncf", None)  # as if not installed
    assert resolve_backend("auto", frozenset({"avx512_vnni", "amx_int8"})) == "openvino"


def test_no_cpuinfo_means_no_flags(tmp_path):
    assert cpu_flags(tmp_path / "missing") == frozenset()
    (tmp_path / "odd").write_text("processor : 0\nmodel name : something\n")
    assert cpu_flags(tmp_path / "odd") == frozenset()


def test_this_machine_resolves_to_a_concrete_backend():
    flags = cpu_flags()
    assert resolve_backend("auto") == ("openvino-int8" if flags & embed.INT8_FLAGS else "openvino")


def test_auto_is_the_default_and_shares_the_embedder_it_stands_for(tmp_path, monkeypatch):
    assert Settings(home=tmp_path).index.embedding_backend == "auto"
    monkeypatch.setenv("FOOTNOTE_EMBEDDING_BACKEND", "auto")
    assert Settings(home=tmp_path).index.embedding_backend == "auto"
    chosen = default_embedder(BUNDLED, 64, "auto")
    assert chosen is default_embedder(BUNDLED, 64, resolve_backend("auto"))
    assert chosen.name == f"{BUNDLED}#{resolve_backend('auto')}"
