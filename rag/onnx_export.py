"""An ONNX export of a sentence-transformers model, so questions are encoded without torch.

Importing torch and sentence-transformers and loading the weights took most of a
cold ``rag ask`` (about 10 s on 2 cores, 800 MB). The index is built with the
torch model as before; alongside, the build traces the model's transformer once
into ONNX and keeps it in the cache (``$XDG_CACHE_HOME/rag/models/onnx``), and
questions are then encoded by onnxruntime (:class:`rag.embeddings.OnnxEmbedder`).
The graph and its weights are kept in two files (``model.onnx``, ``model.weights``),
which onnxruntime loads in about half the time of one.

An export is kept only if it encodes a set of probe texts (one long enough to be
truncated, and a padded batch) as the torch model does: cosine at least
``MIN_COSINE`` for each. It is keyed by the model folder's path and the size and
modification time of its files, so a reinstalled model is exported afresh.
Everything here is best effort: without the ``onnx`` package, or if tracing
fails, questions are encoded with torch as before (slower to start, same answers).

Only pooled sentence-transformers models of the common shape are exported: a
Transformer, a mean or CLS Pooling, and optionally Normalize.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .packages import models_cache_dir

#: Makes the query-time encoder of an export: (folder, pooling, max_tokens) -> encode.
EncoderFactory = Callable[[Path, str, int], Callable[[list[str]], np.ndarray]]

#: Bumped when the export's files or checks change, so older exports are redone.
EXPORT_VERSION = 2
MARKER = "export.json"
#: The weights, kept beside the graph: onnxruntime loads them in half the time.
WEIGHTS = "model.weights"
#: The lowest cosine between an exported and a torch vector for the export to be kept.
MIN_COSINE = 0.99999
PROBES = (
    "By how much did Chinese exports to North Korea rise in September?",
    "Who did Pak Myong Ho meet?",
    "The meeting was held between North Korea’s vice-minister of Foreign Affairs, "
    "Pak Myong Ho, and his Chinese counterpart, Sun Weidong.",
    "a",
    # Longer than the model reads: checks that both truncate alike.
    " ".join(["Trade across the Yalu River bridge between Dandong and Sinuiju grew."] * 40),
)


def export_root() -> Path:
    """Where exports are kept: ``$XDG_CACHE_HOME/rag/models/onnx``."""
    return models_cache_dir() / "onnx"


def _key(model_path: Path) -> str:
    """A hash of the model folder's path and its files' sizes and times."""
    root = model_path.resolve()
    files = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            stat = path.stat()
            files.append((str(path.relative_to(root)), stat.st_size, stat.st_mtime_ns))
    blob = json.dumps([EXPORT_VERSION, str(root), files])
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def export_folder(model_path: Path) -> Path:
    """Where the export of the model in ``model_path`` is (or would be) kept."""
    where = "-".join(model_path.resolve().parts[-2:])
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in where)
    return export_root() / f"{name}-{_key(model_path)}"


def find_export(model_path: Path) -> tuple[Path, dict[str, Any]] | None:
    """The folder of a checked export of ``model_path`` and its record, or None."""
    try:
        folder = export_folder(model_path)
        record = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("version") != EXPORT_VERSION:
        return None
    for name, size in record.get("files", {}).items():
        try:
            if (folder / name).stat().st_size != size:
                return None
        except OSError:
            return None
    return folder, record


def pooling_of(model_path: Path) -> str | None:
    """"mean" or "cls" for a Transformer + Pooling (+ Normalize) model folder, else None."""
    try:
        modules = json.loads((model_path / "modules.json").read_text(encoding="utf-8"))
        kinds = [str(m["type"]).rsplit(".", 1)[-1] for m in modules]
        pooling_dir = next(m["path"] for m in modules if str(m["type"]).endswith("Pooling"))
        config = json.loads((model_path / pooling_dir / "config.json").read_text("utf-8"))
    except (OSError, ValueError, KeyError, TypeError, StopIteration):
        return None
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        return None
    mode = config.get("pooling_mode")
    if mode is None:
        on = [k for k in ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens",
                          "weightedmean_tokens", "lasttoken") if config.get(f"pooling_mode_{k}")]
        mode = {"cls_token": "cls", "mean_tokens": "mean"}.get(on[0]) if len(on) == 1 else None
    return mode if mode in ("mean", "cls") else None


def export(model: Any, model_path: Path, encoder: EncoderFactory) -> Path | None:
    """Export the loaded SentenceTransformer ``model`` (from ``model_path``) and check
    that ``encoder`` of the export encodes as the torch model does; the export's
    folder, or None when it cannot be made or does not match (then questions keep
    using torch)."""
    found = find_export(model_path)
    if found is not None:
        return found[0]
    pooling = pooling_of(model_path)
    target = export_folder(model_path)
    refused = target.with_name(target.name + ".refused")
    if pooling is None or refused.is_file():
        return None
    try:
        import onnx  # noqa: F401 - torch's exporter needs it; say nothing without it
    except ImportError:
        return None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".export-") as tmp:
            record = _export_into(model, model_path, Path(tmp), pooling, encoder)
            if record is None:  # traced, but encodes otherwise: do not try again
                refused.write_text("the export did not encode as the torch model\n")
                return None
            (Path(tmp) / MARKER).write_text(json.dumps(record, indent=2), encoding="utf-8")
            os.chmod(tmp, 0o755)  # as other cache folders, not a temporary one's 0700
            if find_export(model_path) is not None:  # another process's, meanwhile
                return target
            if target.exists():  # a damaged export: find_export refused it
                shutil.rmtree(target, ignore_errors=True)
            try:
                os.replace(tmp, target)
            except OSError:
                if find_export(model_path) is None:  # not another process's export
                    raise
            # TemporaryDirectory's clean-up finds nothing left to remove.
            Path(tmp).mkdir(exist_ok=True)
    except Exception:  # torch's exporter raises many kinds; a failed export only costs speed
        return None
    return target


def _export_into(model: Any, model_path: Path, folder: Path, pooling: str,
                 encoder: EncoderFactory) -> dict[str, Any] | None:
    """Trace ``model``'s transformer into ``folder`` and compare; its record, or None."""
    import torch

    transformer = model[0].auto_model
    max_tokens = int(model.max_seq_length)

    class States(torch.nn.Module):
        def __init__(self, inner: Any):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    # Traced with a padded batch, so the attention mask is part of the graph.
    ids = torch.tensor([[101, 2023, 2003, 1037, 3231, 102], [101, 2748, 102, 0, 0, 0]])
    ids = ids.clamp(max=int(transformer.config.vocab_size) - 1)
    mask = torch.tensor([[1] * 6, [1, 1, 1, 0, 0, 0]])
    axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
            "token_type_ids": {0: "batch", 1: "tokens"},
            "last_hidden_state": {0: "batch", 1: "tokens"}}
    was_training = transformer.training
    transformer.eval()
    try:
        with (warnings.catch_warnings(), torch.no_grad(),
              contextlib.redirect_stdout(io.StringIO())):
            warnings.simplefilter("ignore")
            torch.onnx.export(States(transformer), (ids, mask, torch.zeros_like(ids)),
                              str(folder / "traced.onnx"),
                              input_names=["input_ids", "attention_mask", "token_type_ids"],
                              output_names=["last_hidden_state"], dynamic_axes=axes,
                              opset_version=17, dynamo=False)
    finally:
        transformer.train(was_training)
    _weights_apart(folder / "traced.onnx", folder / "model.onnx", WEIGHTS)
    shutil.copyfile(model_path / "tokenizer.json", folder / "tokenizer.json")

    encode = encoder(folder, pooling, max_tokens)
    texts = list(PROBES)
    want = np.asarray(model.encode(texts, convert_to_numpy=True, normalize_embeddings=True,
                                   show_progress_bar=False), dtype=np.float32)
    alone = np.stack([encode([t])[0] for t in texts])
    batched = encode(texts)  # padded: the mask must hide the padding
    cosine = float(min((alone * want).sum(axis=1).min(), (batched * want).sum(axis=1).min()))
    if cosine < MIN_COSINE:
        return None
    return {
        "version": EXPORT_VERSION,
        "source": str(model_path.resolve()),
        "pooling": pooling,
        "max_tokens": max_tokens,
        "dimension": int(want.shape[1]),
        "min_cosine": cosine,
        "max_abs_difference": float(max(np.abs(alone - want).max(),
                                        np.abs(batched - want).max())),
        "torch": str(torch.__version__),
        "files": {f: (folder / f).stat().st_size
                  for f in ("model.onnx", WEIGHTS, "tokenizer.json")},
    }


def _weights_apart(traced: Path, target: Path, weights: str) -> None:
    """Save the graph ``traced`` as ``target`` with its weights in the file ``weights``
    beside it: the same model, which onnxruntime loads in about half the time (one
    read of the raw weights instead of parsing them out of the graph)."""
    import onnx

    model = onnx.load(str(traced))
    onnx.save_model(model, str(target), save_as_external_data=True,
                    all_tensors_to_one_file=True, location=weights, size_threshold=1024)
    traced.unlink()
