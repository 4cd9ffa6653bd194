"""The ONNX backends: exported once from the packaged model, checked, and equal in use to torch."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rag.embedding import AUTO, TORCH, Embedder, TorchEncoder, card_languages, get_embedder
from rag.errors import ModelUnavailableError
from rag.models import DEFAULT_CACHE_DIR, sha256_of
from rag.onnx_embedding import FP32, INT8, MANIFEST, MIN_COSINE, exported_model, weights_file
from rag.settings import Settings

MODEL = Settings().embedding_model
TEXTS = [
    "Callao",
    "How much cocaine was seized near Trujillo in 2014?",
    "The Exchange Stabilization Fund (ESF) can buy or sell foreign currencies, hold U.S. dollar "
    "and foreign-currency assets, and provide financing to foreign governments. " * 6,
    "Polymetallic nodules on the abyssal plains hold nickel, cobalt, copper and manganese.",
]


@pytest.fixture(scope="module")
def torch_embedder() -> Embedder:
    return get_embedder(MODEL, backend=TORCH)


@pytest.mark.parametrize(("backend", "least_cosine"), [(FP32, 0.9999), (INT8, MIN_COSINE)])
def test_onnx_vectors_agree_with_the_model(torch_embedder, backend, least_cosine):
    onnx = get_embedder(MODEL, backend=backend)
    assert onnx.backend == backend
    assert (onnx.name, onnx.dimension, onnx.max_tokens) == (
        torch_embedder.name,
        torch_embedder.dimension,
        torch_embedder.max_tokens,
    )
    vectors = onnx.embed(TEXTS)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.sum(vectors * torch_embedder.embed(TEXTS), axis=1).min() >= least_cosine


def test_token_counts_match_the_model_tokenizer(torch_embedder):
    onnx = get_embedder(MODEL, backend=INT8)
    assert isinstance(torch_embedder.encoder, TorchEncoder)
    tokenizer = torch_embedder.encoder.model.tokenizer
    long_text = " ".join(TEXTS) * 3  # far past the model's 256 tokens: counted, not truncated
    for text in [*TEXTS, long_text, "naïve café — ﬁnal", ""]:
        expected = len(tokenizer.encode(text, add_special_tokens=False))
        assert onnx.count_tokens(text) == torch_embedder.count_tokens(text) == expected
    assert onnx.count_tokens(long_text) > 256


def test_auto_prefers_int8():
    assert get_embedder(MODEL).backend == get_embedder(MODEL, backend=AUTO).backend == INT8


def test_export_is_reused_and_redone_when_damaged(tmp_path):
    embedder = get_embedder(MODEL, backend=INT8)  # makes the export in the default cache
    source = DEFAULT_CACHE_DIR.expanduser() / "onnx" / embedder.name
    shutil.copytree(source, tmp_path / "onnx" / embedder.name)
    manifest = json.loads((tmp_path / "onnx" / embedder.name / MANIFEST).read_text())
    assert manifest["source_sha256"] == sha256_of(weights_file(embedder.path))
    assert manifest["probe_min_cosine"][INT8] >= MIN_COSINE

    file = exported_model(embedder.path, embedder.name, tmp_path, INT8)
    assert sha256_of(file) == manifest["files"][INT8]["sha256"]  # reused, not exported again
    file.write_bytes(b"damaged")
    again = exported_model(embedder.path, embedder.name, tmp_path, INT8)
    redone = json.loads((again.parent / MANIFEST).read_text())
    assert sha256_of(again) == redone["files"][INT8]["sha256"]
    assert not list(tmp_path.joinpath("onnx").glob(".*"))  # no temporary folder left behind


def model_without_fast_tokenizer(tmp_path: Path) -> Path:
    """A copy of the packaged model (weights linked) lacking tokenizer.json."""
    original = get_embedder(MODEL, backend=TORCH).path
    copy = tmp_path / "model"
    shutil.copytree(
        original, copy, ignore=shutil.ignore_patterns("*.safetensors", "tokenizer.json")
    )
    weights = weights_file(original)
    (copy / weights.name).symlink_to(weights)
    return copy


def test_auto_falls_back_to_torch_and_explicit_backend_refuses(tmp_path):
    path = model_without_fast_tokenizer(tmp_path)
    fallback = Embedder(str(path), cache_dir=tmp_path / "cache", backend=AUTO)
    assert fallback.backend == TORCH
    assert fallback.count_tokens("How much cocaine?") == 4  # how much cocaine ?
    assert fallback.embed(["Callao"]).shape == (1, 384)
    with pytest.raises(ModelUnavailableError, match="tokenizer.json"):
        _ = Embedder(str(path), cache_dir=tmp_path / "cache", backend=INT8).backend
    with pytest.raises(ModelUnavailableError, match="unknown embedding backend"):
        Embedder(MODEL, backend="tpu")


def test_passages_are_embedded_with_their_document_title(embedder):
    inputs = embedder.passage_inputs(
        [
            ("Seabed Mining", "Nodules lie on the abyssal plain."),
            ("Seabed Mining", "Seabed Mining\n\nAn overview."),  # already leads with its title
            ("", "No title here."),
        ]
    )
    assert inputs == [
        "Seabed Mining\n\nNodules lie on the abyssal plain.",
        "Seabed Mining\n\nAn overview.",
        "No title here.",
    ]
    titled, plain = (
        embedder.embed_passages([("Seabed Mining", "Nodules lie on the plain.")]),
        embedder.embed(["Nodules lie on the plain."]),
    )
    assert titled.shape == plain.shape == (1, 384)
    assert float(titled[0] @ plain[0]) < 0.99  # the title is part of what is embedded


def test_a_title_slot_in_the_document_prompt_takes_the_title(embedder, monkeypatch):
    monkeypatch.setitem(embedder.encoder.prompts, "document", "title: none | text: ")
    passages = [("Seabed Mining", "Nodules."), ("", "Text."), ("Seabed Mining", "Seabed Mining.")]
    assert embedder.passage_inputs(passages) == [
        "title: Seabed Mining | text: Nodules.",
        "title: none | text: Text.",
        "title: none | text: Seabed Mining.",
    ]


def tiny_gemma_folder(folder: Path) -> Path:
    """A two-layer Gemma 3 encoder with random weights, saved in EmbeddingGemma's layout:
    bidirectional attention with a sliding window of 4 tokens (so that the window matters),
    mean pooling, two Dense modules (one without bias and activation, one with both)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as models
    from tokenizers import Tokenizer, pre_tokenizers
    from tokenizers import models as tokenizer_models
    from transformers import Gemma3TextConfig, Gemma3TextModel, PreTrainedTokenizerFast

    words = " ".join(TEXTS).lower().replace(",", " ").replace(".", " ").replace("?", " ").split()
    vocabulary = {"[PAD]": 0, "[UNK]": 1} | {w: i + 2 for i, w in enumerate(dict.fromkeys(words))}
    tokenizer = Tokenizer(tokenizer_models.WordLevel(vocabulary, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]")
    config = Gemma3TextConfig(
        vocab_size=len(vocabulary),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        sliding_window=4,
        layer_types=["sliding_attention", "full_attention"],
        use_bidirectional_attention=True,
        max_position_embeddings=256,
        pad_token_id=0,
    )
    torch.manual_seed(0)
    Gemma3TextModel(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    model = SentenceTransformer(
        modules=[
            models.Transformer(str(folder), max_seq_length=128),
            models.Pooling(32, "mean"),
            models.Dense(32, 48, bias=False, activation_function=torch.nn.Identity()),
            models.Dense(48, 24),
            models.Normalize(),
        ],
        device="cpu",
    )
    model.save(str(folder))
    return folder


def test_a_gemma_model_with_dense_modules_is_exported_and_agrees(tmp_path):
    import onnx
    from sentence_transformers import SentenceTransformer

    from rag.onnx_embedding import OnnxEncoder, model_layout

    folder = tiny_gemma_folder(tmp_path / "tiny-gemma")
    layout = model_layout(folder)
    assert (layout.dimension, len(layout.dense)) == (24, 2)
    fp32 = exported_model(folder, "tiny-gemma", tmp_path / "cache", FP32)
    vectors = OnnxEncoder(layout, fp32, 1).encode(TEXTS, batch_size=4)
    original = SentenceTransformer(str(folder), device="cpu").encode(
        TEXTS, normalize_embeddings=True, convert_to_numpy=True
    )
    assert np.sum(vectors * original, axis=1).min() >= 0.9999
    manifest = json.loads((fp32.parent / MANIFEST).read_text())
    graph = onnx.load(str(fp32.parent / manifest["files"][INT8]["file"])).graph
    down = [node.op_type for node in graph.node if "down_proj" in node.name]
    assert down and set(down) == {"MatMul"}  # the MLP output projections stay fp32


def test_sentence_vectors_are_each_texts_own_and_only_new_texts_are_embedded(embedder):
    from rag.embedding import SentenceVectors

    asked: list[list[str]] = []

    class Counting:
        def embed(self, texts: list[str], prompt_name: str | None = None) -> np.ndarray:
            asked.append(texts)
            return embedder.embed(texts, prompt_name)

    vectors = SentenceVectors(Counting(), capacity=3)
    first = vectors.embed(["Callao", "The port of Paita ships cocaine north.", "Callao"])
    again = vectors.embed(["The port of Paita ships cocaine north.", "Lima"])
    assert asked == [["Callao"], ["The port of Paita ships cocaine north."], ["Lima"]]
    alone = embedder.embed(["The port of Paita ships cocaine north."])[0]
    assert np.array_equal(first[1], alone) and np.array_equal(again[0], alone)  # history-free
    assert np.array_equal(first[0], first[2])
    vectors.embed(["Paita"])  # a fourth text: the least recently used one goes
    vectors.embed(["Callao", "Lima"])
    assert asked[-1] == ["Callao"]
    assert vectors.embed([]).shape == (0, embedder.dimension)


def test_saved_sentence_vectors_are_read_back_by_another_process_unchanged(embedder, tmp_path):
    from rag.embedding import SavedVectors, SentenceVectors

    asked: list[str] = []

    class Counting:
        def embed(self, texts: list[str], prompt_name: str | None = None) -> np.ndarray:
            asked.extend(texts)
            return embedder.embed(texts, prompt_name)

    texts = ["Peru exports more than 200 tons of cocaine a year.", "Callao is a port."]
    path = tmp_path / "sentence-vectors.sqlite"
    first = SentenceVectors(Counting(), saved=SavedVectors(path, "minilm int8")).embed(texts)
    assert asked == texts
    # a fresh memory, as in another process: read from the file, nothing embedded again
    again = SentenceVectors(Counting(), saved=SavedVectors(path, "minilm int8")).embed(texts)
    assert asked == texts and np.array_equal(first, again)
    # vectors computed by another model or backend are not taken for this one's
    SentenceVectors(Counting(), saved=SavedVectors(path, "minilm fp32")).embed(texts[:1])
    assert asked == [*texts, texts[0]]


def test_saved_sentence_vectors_wait_for_their_folder_and_survive_a_damaged_file(
    embedder, tmp_path, caplog
):
    from rag.embedding import SavedVectors, SentenceVectors

    folder = tmp_path / "index"
    saved = SavedVectors(folder / "sentence-vectors.sqlite", "minilm int8")
    vectors = SentenceVectors(embedder, saved=saved)
    vectors.embed(["Before the library exists."])  # no folder yet: nothing saved, no error
    assert not folder.exists()
    folder.mkdir()
    vectors.embed(["After the library exists."])
    assert (folder / "sentence-vectors.sqlite").is_file()

    damaged = tmp_path / "damaged.sqlite"
    damaged.write_bytes(b"not a database" * 100)
    expected = embedder.embed(["A sentence."])
    got = SentenceVectors(embedder, saved=SavedVectors(damaged, "minilm int8")).embed(
        ["A sentence."]
    )
    assert np.array_equal(got, expected)
    assert "sentence vectors are not saved" in caplog.text
    assert damaged.read_bytes() == b"not a database" * 100  # left as it was


@pytest.mark.parametrize(
    ("card", "languages"),
    [
        ("---\nlanguage: en\nlicense: apache-2.0\n---\n# A model", {"en"}),
        ("---\nlanguage:\n- en\n- ES\n---\n", {"en", "es"}),
        ("---\nlicense: gemma\n---\n# Reads 100 languages", None),  # declares none
        ("# A card without front matter\nlanguage: en", None),
        ("---\nlanguage: [en\n---\n", None),  # not YAML
    ],
)
def test_the_languages_a_model_card_declares(tmp_path: Path, card: str, languages):
    (tmp_path / "README.md").write_text(card)
    assert card_languages(tmp_path) == languages


def test_a_model_without_a_card_declares_no_languages(tmp_path: Path):
    assert card_languages(tmp_path) is None
