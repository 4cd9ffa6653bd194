"""A sentence-transformers model run by onnxruntime: exported locally once, optionally int8.

The export is made from the local model folder (never fetched) with `torch.onnx.export`, its
weights quantized to int8 per channel with onnxruntime's `quantize_dynamic`, and both files
checked against the model itself on fixed probe texts before they are used. The files live in
`<cache_dir>/onnx/<name>/` with a `manifest.json` recording the source weights' sha256, each
file's sha256 and the smallest cosine to the original model's vectors. A backend whose vectors
come within `MIN_COSINE` of the original's counts as the same model: an index it writes keeps
the model's name, and may be searched or extended with any other backend of that model.
Running it needs only onnxruntime, `tokenizers` and numpy: no torch import.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from itertools import takewhile
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ModelUnavailableError
from rag.models import offline_environment, sha256_of

FP32 = "onnx"
INT8 = "onnx-int8"
FILES = {FP32: "model.onnx", INT8: "model-int8.onnx"}
MANIFEST = "manifest.json"
Manifest = dict[str, Any]  # manifest.json: the exports of a model and how they were checked
EXPORT_VERSION = 1  # bump when the export recipe changes; older exports are then redone
MIN_COSINE = 0.98  # least cosine to the original model's vector, over every probe text
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
POOLING_MODES = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")

# Varied English of several lengths: the export is accepted only if every vector agrees.
PROBE_TEXTS = [
    "What is Australia's surface area?",
    "In September 2014 the police seized 7.6 metric tons of cocaine near Trujillo.",
    "The Strait of Hormuz carries about a fifth of the oil traded by sea each year.",
    "Decentralized finance uses smart contracts on public blockchains to offer loans.",
    "Breastfeeding rates rose after the program; infant formula costs fell by 12%.",
    "The Space Force organizes, trains and equips Guardians for missions in orbit.",
    "Peak oil: the point when world oil production reaches its maximum, then declines.",
    "Foreign holdings of federal debt were $7.6 trillion, about 30% of the total.",
    "Seabed mining could supply nickel, cobalt and manganese from polymetallic nodules.",
    "Iran's enrichment to 60% U-235 shortens the time it would need to build a weapon.",
    "Grants management: agencies lacked controls over award closeout and monitoring.",
    "Biometric identification matches fingerprints, faces or irises against records.",
    "Iran",
    "cocaine seizures",
    "Table 3. Obligations by fiscal year (in millions of dollars): 2019 412; 2020 530.",
]


def _long_probes() -> list[str]:
    """Passages of roughly 100 to 250 tokens made of the probe sentences."""
    return [" ".join(PROBE_TEXTS[i:] + PROBE_TEXTS[:i]) for i in (0, 5, 9)] + [
        " ".join(PROBE_TEXTS[:6])
    ]


@dataclass(frozen=True)
class ModelLayout:
    """What running a sentence-transformers folder needs: tokenizer, length, pooling."""

    path: Path
    tokenizer_file: Path
    max_seq_length: int
    pooling: str  # "mean" or "cls"
    dimension: int
    prompts: dict[
        str, str
    ]  # prompt name -> text put before each input, as sentence-transformers does
    dense: tuple[Path, ...] = ()  # folders of the Dense modules after pooling, in order


IDENTITY = "torch.nn.modules.linear.Identity"
TANH = "torch.nn.modules.activation.Tanh"


def model_layout(path: Path) -> ModelLayout:
    """The layout of a Transformer + Pooling (+ Dense ...) (+ Normalize) folder, as written by
    sentence-transformers before version 6 or since; other models raise."""
    try:
        modules = json.loads((path / "modules.json").read_text())
        types = [module["type"].rsplit(".", 1)[-1] for module in modules]
        dense_count = len(list(takewhile(lambda kind: kind == "Dense", types[2:])))
        if types[:2] != ["Transformer", "Pooling"] or set(types[2 + dense_count :]) - {"Normalize"}:
            raise ModelUnavailableError(f"{path}: modules {types} have no ONNX export here")
        if modules[0].get("path"):
            raise ModelUnavailableError(f"{path}: the transformer is not at the model's root")
        pooling, width = _pooling(path / modules[1]["path"])
        max_seq_length = json.loads((path / "sentence_bert_config.json").read_text()).get(
            "max_seq_length"
        ) or json.loads((path / "tokenizer_config.json").read_text()).get("model_max_length")
        st_config = path / "config_sentence_transformers.json"
        prompts = (
            json.loads(st_config.read_text()).get("prompts", {}) if st_config.is_file() else {}
        )
        dense = tuple(path / module["path"] for module in modules[2 : 2 + dense_count])
        dense_configs = [_dense_config(folder) for folder in dense]
        dimension = dense_configs[-1]["out_features"] if dense_configs else width
    except (OSError, ValueError, KeyError) as error:
        raise ModelUnavailableError(
            f"{path}: not a readable sentence-transformers folder ({error})"
        ) from error
    tokenizer_file = path / "tokenizer.json"
    if not tokenizer_file.is_file():
        raise ModelUnavailableError(f"{path}: no tokenizer.json for the ONNX backend")
    return ModelLayout(
        path=path,
        tokenizer_file=tokenizer_file,
        max_seq_length=int(max_seq_length),
        pooling=pooling,
        dimension=int(dimension),
        prompts=prompts,
        dense=dense,
    )


def _pooling(folder: Path) -> tuple[str, int]:
    """The pooling mode ("mean" or "cls") and the token vectors' width; sentence-transformers 6
    names the mode, earlier versions set one flag of several."""
    config = json.loads((folder / "config.json").read_text())
    if isinstance(config.get("pooling_mode"), str):
        mode, width = config["pooling_mode"], config["embedding_dimension"]
    else:
        enabled = [k for k, v in config.items() if k.startswith("pooling_mode") and v]
        mode = POOLING_MODES.get(enabled[0], "") if len(enabled) == 1 else ""
        width = config["word_embedding_dimension"]
    if mode not in POOLING_MODES.values():
        raise ModelUnavailableError(f"{folder}: pooling {config} has no ONNX export here")
    return mode, int(width)


def _dense_config(folder: Path) -> dict[str, Any]:
    """A Dense module's configuration; one whose activation or weights cannot be run here
    raises."""
    config: dict[str, Any] = json.loads((folder / "config.json").read_text())
    if config.get("activation_function", TANH) not in (IDENTITY, TANH):
        raise ModelUnavailableError(
            f"{folder}: activation {config['activation_function']} has no ONNX export here"
        )
    if not (folder / "model.safetensors").is_file():
        raise ModelUnavailableError(f"{folder}: Dense weights are not in model.safetensors")
    return config


@dataclass(frozen=True)
class DenseLayer:
    """A sentence-transformers Dense module: a linear map, then tanh or nothing."""

    weight: np.ndarray  # (in, out)
    bias: np.ndarray | None
    tanh: bool

    def __call__(self, x: np.ndarray) -> np.ndarray:
        y: np.ndarray = x @ self.weight if self.bias is None else x @ self.weight + self.bias
        return np.tanh(y) if self.tanh else y


def dense_layers(layout: ModelLayout) -> list[DenseLayer]:
    """The model's Dense modules, read from safetensors."""
    from safetensors.numpy import load_file

    layers = []
    for folder in layout.dense:
        config = _dense_config(folder)
        weights = load_file(folder / "model.safetensors")
        layers.append(
            DenseLayer(
                weight=np.ascontiguousarray(weights["linear.weight"].T, dtype=np.float32),
                bias=weights.get("linear.bias"),
                tanh=config.get("activation_function", TANH) == TANH,
            )
        )
    return layers


def weights_file(path: Path) -> Path:
    for name in WEIGHT_FILES:
        if (path / name).is_file():
            return path / name
    raise ModelUnavailableError(f"{path}: no weights file ({' or '.join(WEIGHT_FILES)})")


def _source_identity(path: Path, manifest: Manifest | None) -> str:
    """sha256 of the source weights; reused from the manifest while size and mtime match."""
    weights = weights_file(path)
    stat = weights.stat()
    stamp = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    if manifest and manifest.get("source_stamp") == stamp:
        return str(manifest["source_sha256"])
    return sha256_of(weights)


def _read_manifest(folder: Path) -> Manifest | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def exported_model(path: Path, name: str, cache_dir: Path, variant: str) -> Path:
    """The checked ONNX file of `variant` (FP32 or INT8) for the model at `path`, exported once."""
    layout = model_layout(path)
    folder = cache_dir.expanduser() / "onnx" / name
    manifest = _read_manifest(folder)
    source_sha = _source_identity(path, manifest)
    if not (
        manifest
        and manifest.get("export_version") == EXPORT_VERSION
        and manifest.get("source_sha256") == source_sha
        and _intact(folder, manifest, variant)
    ):
        manifest = _export(layout, folder, source_sha)
    if variant not in manifest["files"]:
        reason = manifest["rejected"].get(variant, "not exported")
        raise ModelUnavailableError(f"{name}: no {variant} backend ({reason})")
    return folder / str(manifest["files"][variant]["file"])


def _intact(folder: Path, manifest: Manifest, variant: str) -> bool:
    """Whether the variant's file matches its recorded sha256 (a rejected variant is intact)."""
    entry = manifest["files"].get(variant)
    if entry is None:
        return variant in manifest.get("rejected", {})
    file = folder / entry["file"]
    return file.is_file() and sha256_of(file) == str(entry["sha256"])


def _export(layout: ModelLayout, folder: Path, source_sha: str) -> Manifest:
    """Export, quantize and check the model into `folder` (atomically); returns its manifest."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    work.chmod(0o755)  # mkdtemp makes it private; model files are not
    try:
        fp32, int8 = work / FILES[FP32], work / FILES[INT8]
        reference = _export_fp32(layout, fp32)
        _quantize(fp32, int8)
        probes = PROBE_TEXTS + _long_probes()
        files, rejected, cosines = {}, {}, {}
        for variant, file in ((FP32, fp32), (INT8, int8)):
            vectors = OnnxEncoder(layout, file, None, variant).encode(probes, batch_size=8)
            cosines[variant] = float(np.min(np.sum(vectors * reference, axis=1)))
            if cosines[variant] >= MIN_COSINE:
                files[variant] = {"file": file.name, "sha256": sha256_of(file)}
            else:
                rejected[variant] = (
                    f"cosine to the original model {cosines[variant]:.4f} < {MIN_COSINE}"
                )
                file.unlink()
        weights = weights_file(layout.path).stat()
        manifest = {
            "export_version": EXPORT_VERSION,
            "source": str(layout.path),
            "source_sha256": source_sha,
            "source_stamp": {"size": weights.st_size, "mtime_ns": weights.st_mtime_ns},
            "min_cosine": MIN_COSINE,
            "probe_min_cosine": cosines,
            "files": files,
            "rejected": rejected,
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2))
        shutil.rmtree(folder, ignore_errors=True)
        try:
            os.replace(work, folder)
        except OSError:  # another process put its export there meanwhile: use that one
            theirs = _read_manifest(folder)
            if theirs is None or theirs.get("source_sha256") != source_sha:
                raise
            return theirs
        return manifest
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _export_fp32(layout: ModelLayout, target: Path) -> np.ndarray:
    """Write the transformer as ONNX; return the original model's vectors of the probe texts."""
    offline_environment()
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel

    original = SentenceTransformer(str(layout.path), device="cpu", local_files_only=True)
    reference = original.encode(
        PROBE_TEXTS + _long_probes(), normalize_embeddings=True, convert_to_numpy=True
    )
    model = AutoModel.from_pretrained(
        str(layout.path), attn_implementation="eager", local_files_only=True
    ).eval()
    tokenizer = original.tokenizer
    sample = tokenizer(
        ["an example", "a longer example sentence"], padding=True, return_tensors="pt"
    )
    names = [name for name in _INPUTS if name in sample]

    layer_masks = _layer_masks(model.config)

    class Hidden(torch.nn.Module):
        """The transformer's last hidden state, called with keyword inputs."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            named: dict[str, Any] = dict(zip(names, inputs, strict=True))
            if layer_masks is not None:
                named["attention_mask"] = layer_masks(named["attention_mask"])
                named["use_cache"] = False
            hidden: torch.Tensor = self.model(**named).last_hidden_state
            return hidden

    axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "last_hidden_state"]}
    with torch.no_grad():
        torch.onnx.export(
            Hidden(),
            tuple(sample[name] for name in names),
            str(target),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    return reference


def _layer_masks(config: Any) -> Callable[[Any], dict[str, Any]] | None:
    """For a model that builds an attention mask per layer type (Gemma 3: full and sliding
    window), a function of the padding mask giving those masks, made of plain tensor
    operations that the ONNX exporter can trace (the model's own are built with vmap, which
    it cannot). None for a model that takes the padding mask as it is."""
    layer_types = getattr(config, "layer_types", None)
    if not layer_types:
        return None
    if not getattr(config, "use_bidirectional_attention", False) or set(layer_types) - {
        "full_attention",
        "sliding_attention",
    }:
        raise ModelUnavailableError(
            f"attention {sorted(set(layer_types))} (causal or unknown) has no ONNX export here"
        )
    import torch

    window = int(config.sliding_window)

    def masks(padding: torch.Tensor) -> dict[str, torch.Tensor]:
        keys = padding[:, None, None, :].bool()  # (batch, 1, query, key): which keys are text
        position = torch.arange(padding.shape[1], device=padding.device)
        near = (position[:, None] - position[None, :]).abs() < window
        blocked = torch.finfo(torch.float32).min
        return {
            "full_attention": torch.where(keys, 0.0, blocked),
            "sliding_attention": torch.where(keys & near[None, None], 0.0, blocked),
        }

    return masks


def _quantize(source: Path, target: Path) -> None:
    """int8 weights of the matrix products, per output channel; activations quantized at run
    time. The embedding tables stay fp32: quantizing them costs short texts accuracy. So do
    the MLP output projections of gated models (`down_proj`), whose inputs have outliers:
    with them in int8 EmbeddingGemma's probe vectors fell to cosine 0.946, without 0.995."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(str(source))
    quantize_dynamic(
        model,
        str(target),
        per_channel=True,
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul"],
        nodes_to_exclude=[node.name for node in model.graph.node if "down_proj" in node.name],
    )


def token_counter(tokenizer_file: Path) -> Callable[[str], int]:
    """A function counting a text's tokens (no special tokens, no truncation)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)


class OnnxEncoder:
    """Tokenizer + ONNX transformer + pooling + normalisation, like the sentence-transformers model."""

    def __init__(
        self, layout: ModelLayout, model_file: Path, threads: int | None, variant: str = FP32
    ) -> None:
        from tokenizers import Tokenizer

        self.layout = layout
        self.variant = variant
        self.model_file = model_file
        self.threads = threads
        self.count_tokens = token_counter(layout.tokenizer_file)
        self.tokenizer = Tokenizer.from_file(str(layout.tokenizer_file))
        self.tokenizer.enable_truncation(layout.max_seq_length)
        self.tokenizer.no_padding()

    @cached_property
    def session(self) -> Any:  # onnxruntime.InferenceSession, made at the first encode
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.threads or len(os.sched_getaffinity(0))
        options.inter_op_num_threads = 1
        # Busy-waiting threads take cores from the parsing thread and other processes.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return onnxruntime.InferenceSession(
            str(self.model_file), options, providers=["CPUExecutionProvider"]
        )

    @cached_property
    def dense(self) -> list[DenseLayer]:
        return dense_layers(self.layout)

    @cached_property
    def _inputs(self) -> set[str]:
        return {i.name for i in self.session.get_inputs()}

    @property
    def backend(self) -> str:
        return self.variant

    @property
    def dimension(self) -> int:
        return self.layout.dimension

    @property
    def max_seq_length(self) -> int:
        return self.layout.max_seq_length

    @property
    def prompts(self) -> dict[str, str]:
        return self.layout.prompts

    def encode(
        self, texts: list[str], batch_size: int, prompt_name: str | None = None
    ) -> np.ndarray:
        """Unit vectors, each text after the prompt `prompt_name` if the model has one; texts
        are batched by token length so that little padding is run."""
        prompt = self.prompts.get(prompt_name or "", "")
        encodings = self.tokenizer.encode_batch([prompt + text for text in texts])
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        vectors = np.empty((len(texts), self.layout.dimension), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            vectors[batch] = self._run([encodings[i].ids for i in batch])
        return vectors

    def _run(self, token_ids: list[list[int]]) -> np.ndarray:
        width = max(len(ids) for ids in token_ids)
        ids = np.zeros((len(token_ids), width), dtype=np.int64)  # padding is masked: any id does
        mask = np.zeros_like(ids)
        for row, sequence in enumerate(token_ids):
            ids[row, : len(sequence)] = sequence
            mask[row, : len(sequence)] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self.session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
        if self.layout.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        for layer in self.dense:
            pooled = layer(pooled)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: np.ndarray = pooled / np.maximum(norms, 1e-12)
        return unit
