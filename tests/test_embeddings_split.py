"""Models whose weights come as a zip split over several packages (no model needed)."""

import io
import zipfile
from pathlib import Path

import pytest

from rag import embeddings
from rag.errors import ConfigError


class _File:
    def __init__(self, path: Path):
        self.path = path

    def __str__(self) -> str:
        return f"pkg/input/{self.path.name}"

    def locate(self) -> Path:
        return self.path


class _Dist:
    def __init__(self, files):
        self.files = files


def _fake_parts(tmp_path: Path, n: int) -> list[Path]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("tiny-model/modules.json", "[]")
        archive.writestr("tiny-model/config.json", "{}")
    data = buffer.getvalue()
    size = -(-len(data) // n)
    parts = []
    for i in range(n):
        part = tmp_path / f"tiny-model.zip.{i + 1:03d}"
        part.write_bytes(data[i * size:(i + 1) * size])
        parts.append(part)
    return parts


@pytest.fixture()
def tiny_split(tmp_path, monkeypatch):
    from importlib import metadata

    parts = _fake_parts(tmp_path, 3)
    dists = {f"tiny-part-{i + 1}": _Dist([_File(p)]) for i, p in enumerate(parts)}

    def distribution(name):
        if name not in dists:
            raise metadata.PackageNotFoundError(name)
        return dists[name]

    monkeypatch.setattr(metadata, "distribution", distribution)
    monkeypatch.setitem(embeddings._SPLIT, "tiny-model", ("tiny-model.zip", tuple(dists)))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return dists


def test_split_model_is_joined_and_unpacked_once(tiny_split, tmp_path):
    path = embeddings.resolve_model_path("tiny-model")
    assert path == tmp_path / "cache" / "rag" / "models" / "tiny-model"
    assert (path / "modules.json").read_text() == "[]"
    (path / "marker").write_text("kept")
    assert embeddings.resolve_model_path("Tiny-Model") == path
    assert (path / "marker").is_file()  # not unpacked again
    leftovers = [p.name for p in path.parent.iterdir() if p.name != "tiny-model"]
    assert leftovers == []


def test_missing_part_names_the_packages_to_install(tiny_split):
    del tiny_split["tiny-part-2"]
    with pytest.raises(ConfigError, match="pip install tiny-part-1 tiny-part-2 tiny-part-3"):
        embeddings.resolve_model_path("tiny-model")


def test_parts_that_are_not_a_zip_are_a_clear_error(tiny_split, tmp_path):
    for dist in tiny_split.values():
        dist.files[0].path.write_bytes(b"not a zip")
    with pytest.raises(ConfigError, match="do not form a zip"):
        embeddings.resolve_model_path("tiny-model")
    assert not (tmp_path / "cache" / "rag" / "models" / "tiny-model").exists()


def test_unknown_model_says_what_is_available():
    with pytest.raises(ConfigError, match="all-mpnet-base-v2"):
        embeddings.resolve_model_path("no-such-model")
