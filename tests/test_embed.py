"""index.embed's backends on the real bundled model and real corpus text: openvino, onnx-int8 and onnx against
torch fp32 (sentence-transformers), the export cache, and a query path that never imports torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from index import embed_onnx
from index.embed import BACKENDS, BUNDLED, default_embedder, make_embedder, resolve_model_path

ROOT = Path(__file__).resolve().parents[1]
PAPER = "2501.12948"  # DeepSeek-R1
QUERIES = (
    "reinforcement learning without supervised fine-tuning as a cold start",
    "group relative policy optimization foregoes the critic model",
    "distillation of reasoning into smaller dense models",
    "language mixing in the chain of thought",
    "reward hacking with a neural reward model",
)
HEAVY = ("torch", "transformers", "sentence_transformers", "nncf")


@pytest.fixture(scope="module")
def passages(paper_pdf) -> list[str]:
    from ingest.chunk import chunk_paper
    from ingest.parse import parse_pdf

    counter = default_embedder()
    chunks = chunk_paper(PAPER, parse_pdf(paper_pdf(PAPER)), count_tokens=counter.count_tokens)
    return [c.text for c in chunks[:80]]


@pytest.fixture(scope="module")
def reference(passages) -> tuple[np.ndarray, np.ndarray]:
    """torch fp32 vectors (sentence-transformers) of the passages and the queries."""
    torch_embedder = make_embedder(BUNDLED, 32, "torch")
    return torch_embedder.embed(passages), torch_embedder.embed(list(QUERIES))


def _top(docs: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    return np.argsort(-(docs @ query))[:k].tolist()


@pytest.mark.parametrize(
    ("backend", "min_cosine"), [("onnx-int8", 0.98), ("openvino-int8", 0.96), ("openvino", 0.999), ("onnx", 0.9999)]
)
def test_vectors_agree_with_torch_fp32(backend, min_cosine, passages, reference):
    embedder = default_embedder(BUNDLED, 64, backend)
    docs, queries = embedder.embed(passages), embedder.embed(list(QUERIES))
    ref_docs, ref_queries = reference

    assert docs.dtype == np.float32 and docs.shape == ref_docs.shape == (len(passages), 384)
    np.testing.assert_allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(queries, axis=1), 1.0, atol=1e-5)
    cosine = np.sum(docs * ref_docs, axis=1)
    assert cosine.min() >= min_cosine, (backend, float(cosine.min()))
    assert np.sum(queries * ref_queries, axis=1).min() >= min_cosine

    # Rankings of real queries over the paper's chunks: the best passage stays on top (near-ties may swap
    # under int8), and the top five mostly agree.
    for query, ref_query in zip(queries, ref_queries, strict=True):
        ours, theirs = _top(docs, query, 5), _top(ref_docs, ref_query, 5)
        if backend.endswith("int8"):
            assert theirs[0] in ours[:3], (ours, theirs)
            assert len(set(ours) & set(theirs)) >= 3, (ours, theirs)
        else:
            assert ours[0] == theirs[0] and len(set(ours) & set(theirs)) >= 4, (ours, theirs)


def _quantised_attention(model_file: Path) -> int:
    """How many of attention's own products (queries by keys, weights by values) take int8 inputs, that is,
    have a FakeQuantize upstream of each input through the reshapes and transposes between them."""
    import re

    import openvino as ov

    from index.embed_openvino import ATTENTION_MATMULS

    def quantised(node, depth: int = 0) -> bool:
        kind = node.get_type_name()
        if kind == "FakeQuantize":
            return True
        if depth > 4 or kind not in ("Reshape", "Transpose", "Multiply", "Divide", "Convert"):
            return False
        return any(quantised(i.get_source_output().get_node(), depth + 1) for i in node.inputs())

    model = ov.Core().read_model(str(model_file))
    products = [
        op
        for op in model.get_ops()
        if op.get_type_name() == "MatMul" and re.match(ATTENTION_MATMULS, op.get_friendly_name())
    ]
    assert len(products) == 12  # two per layer, six layers: the names still match the export
    return sum(all(quantised(i.get_source_output().get_node()) for i in op.inputs()) for op in products)


@pytest.mark.parametrize(
    ("flags", "variant"),
    [
        (frozenset({"avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8"}), "openvino-int8"),
        (frozenset({"avx512_vnni", "avx512_bf16"}), "openvino-int8-attn"),
    ],
)
def test_int8_quantises_attention_only_without_amx(flags, variant, passages, reference):
    """With AMX, attention's products stay out of int8 (they run in bf16 on the tiles); without it they are
    quantised too. Either model, whichever CPU the tests run on, agrees with torch fp32 as the backend must."""
    from index.embed_openvino import OpenVinoInt8Embedder

    embedder = OpenVinoInt8Embedder(BUNDLED, resolve_model_path(BUNDLED), flags=flags)
    docs = embedder.embed(passages)
    assert embedder.variant == variant and embedder.model_file.name == f"model-{variant}.xml"
    assert (_quantised_attention(embedder.model_file) > 0) == (variant == "openvino-int8-attn")
    cosine = np.sum(docs * reference[0], axis=1)
    assert cosine.min() >= 0.96 and cosine.mean() >= 0.985, (float(cosine.min()), float(cosine.mean()))


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8", "openvino"])
def test_a_texts_vector_does_not_depend_on_the_texts_beside_it(backend, passages):
    """Sorting by length, padding within a batch and the order of the texts give each text the vector it gets
    alone. For onnxruntime's int8 model this holds because each text runs alone: quantised in batches, whose
    activations share one range per product, a passage's vector moved by up to 0.014 in cosine with the company
    it was embedded in (the first 20 passages of DeepSeek-R1 together against each alone)."""
    embedder = make_embedder(BUNDLED, 7, backend)
    together = embedder.embed(passages[:20])
    alone = np.vstack([embedder.embed([p]) for p in passages[:20]])
    assert np.sum(together * alone, axis=1).min() > 0.99999
    reversed_ = embedder.embed(passages[:20][::-1])[::-1]
    assert np.sum(together * reversed_, axis=1).min() > 0.99999
    assert embedder.embed([]).shape == (0, 384)


def test_backends_have_distinct_names_and_the_same_tokenizer():
    names = {b: make_embedder(BUNDLED, 64, b).name for b in BACKENDS}
    assert names["torch"] == BUNDLED
    assert len(set(names.values())) == len(BACKENDS) == 5
    text = "Qwen2.5-7B reaches 83.1% on GSM8K, and DeepSeek-R1 69.7 on AIME 2024."
    counts = {b: make_embedder(BUNDLED, 64, b).count_tokens([text]) for b in BACKENDS}
    assert len({tuple(c) for c in counts.values()}) == 1
    assert make_embedder(BUNDLED, 64, "onnx-int8").max_tokens == 256


def test_long_texts_are_truncated_like_sentence_transformers(reference, passages):
    """Past 256 tokens ([CLS] and [SEP] included) the model reads nothing more, as in sentence-transformers."""
    long = " ".join(passages[:6])
    embedder = default_embedder(BUNDLED, 64, "onnx")
    assert embedder.count_tokens([long])[0] > 600
    ref = make_embedder(BUNDLED, 64, "torch").embed([long, long + " " + passages[7]])
    ours = embedder.embed([long, long + " " + passages[7]])
    assert np.sum(ours * ref, axis=1).min() > 0.9999
    assert float(ours[0] @ ours[1]) > 0.99999  # the appended text is past the cut


def test_export_is_cached_and_reused(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = embed_onnx.OnnxEmbedder(BUNDLED, resolve_model_path(BUNDLED), "int8", cache_dir=cache)
    vector = first.embed(["sparse attention over blocks of the context"])
    folder = cache / embed_onnx.model_key(resolve_model_path(BUNDLED))
    files = sorted(p.name for p in folder.iterdir() if p.is_file())
    assert files == ["model-fp32.onnx", "model-int8.onnx", "source.json"]  # no temporary file left behind
    stamps = {p: p.stat().st_mtime_ns for p in folder.glob("*.onnx")}

    def no_export(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(embed_onnx, "_export_fp32", no_export)
    monkeypatch.setattr(embed_onnx, "_fuse_and_quantize", no_export)
    second = embed_onnx.OnnxEmbedder(BUNDLED, resolve_model_path(BUNDLED), "int8", cache_dir=cache)
    np.testing.assert_allclose(second.embed(["sparse attention over blocks of the context"]), vector, atol=1e-6)
    assert {p: p.stat().st_mtime_ns for p in folder.glob("*.onnx")} == stamps
    # The fp32 export serves the onnx backend too (and OpenVINO) without another export.
    embed_onnx.OnnxEmbedder(BUNDLED, resolve_model_path(BUNDLED), "fp32", cache_dir=cache).embed(["x"])


def test_openvino_int8_is_quantised_once_and_reused(monkeypatch):
    """The NNCF-quantised model sits beside the fp32 export (OpenVINO's .xml and .bin, no staging folder left);
    a new embedder loads it instead of quantising again, and gets the same vectors."""
    from index import embed_openvino

    first = default_embedder(BUNDLED, 64, "openvino-int8")
    vector = first.embed(["sparse attention over blocks of the context"])
    folder = first.model_file.parent
    names = {p.name for p in folder.iterdir()}
    assert {"model-fp32.onnx", f"model-{first.variant}.xml", f"model-{first.variant}.bin"} <= names
    assert not [n for n in names if n.startswith(".")], names

    def no_quantising(*args, **kwargs):
        raise AssertionError("quantised again")

    monkeypatch.setattr(embed_openvino, "quantize_int8", no_quantising)
    second = make_embedder(BUNDLED, 64, "openvino-int8")
    np.testing.assert_allclose(second.embed(["sparse attention over blocks of the context"]), vector, atol=1e-5)


def test_openvino_int8_without_nncf_says_what_to_install(tmp_path, monkeypatch):
    """Quantising needs NNCF; without it the error says so and the cache holds no half-built model."""
    source = embed_onnx.ensure_model(resolve_model_path(BUNDLED), "fp32")
    folder = tmp_path / source.parent.name
    folder.mkdir()
    (folder / source.name).symlink_to(source)  # the fp32 export, without exporting again
    monkeypatch.setitem(sys.modules, "nncf", None)  # import nncf now fails
    embedder = make_embedder(BUNDLED, 64, "openvino-int8")
    embedder.cache_dir = tmp_path
    with pytest.raises(RuntimeError, match="pip install nncf"):
        embedder.embed(["x"])
    assert sorted(p.name for p in folder.iterdir()) == ["model-fp32.onnx"]


def test_a_failed_build_leaves_nothing_behind(tmp_path):
    target = tmp_path / "model-int8.onnx"

    def crash(tmp: str) -> None:
        Path(tmp).write_bytes(b"half a model")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        embed_onnx._write_atomic(target, crash)
    assert list(tmp_path.iterdir()) == []


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOOTNOTE_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


@pytest.mark.parametrize("backend", ["openvino", "openvino-int8", "onnx-int8"])
def test_embedding_a_query_imports_no_torch(backend):
    default_embedder(BUNDLED, 64, backend).embed(["build the cache first"])  # this process may export
    script = (
        "import sys, json\n"
        "from index.embed import default_embedder\n"
        f"vector = default_embedder('{BUNDLED}', 64, '{backend}').embed(['GRPO foregoes the critic model'])\n"
        f"print(json.dumps([vector.shape[1], [m for m in {HEAVY!r} if m in sys.modules]]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], env=_env(), capture_output=True, text=True, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [384, []]


def test_cite_from_the_cli_imports_no_torch(small_home):
    """`footnote cite` as a fresh process, on a home ingested with the default backend."""
    heavy = (*HEAVY, "nltk", "llama_index.core", "pymupdf")
    script = (  # cite ends the process itself (footnote.cli.exit_now), after the exit handlers
        "import atexit, json, runpy, sys\n"
        f"atexit.register(lambda: print(json.dumps([m for m in {heavy!r} if m in sys.modules]), file=sys.stderr))\n"
        f"sys.argv = ['footnote', '--home', {str(small_home)!r}, 'cite', 'GRPO foregoes the critic model', '--json']\n"
        "runpy.run_module('footnote.cli', run_name='__main__')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], env=_env(), capture_output=True, text=True, check=True)
    # Sentence spans come from the catalog (split at ingest), so a lookup never loads NLTK, LlamaIndex or MuPDF.
    assert json.loads(done.stderr.strip().splitlines()[-1]) == []
    assert json.loads(done.stdout)["matches"]  # some match came back
