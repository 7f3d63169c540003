"""Artifacts on disk: safetensors, JSON and CSV, written atomically and read with clear errors."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn


class ArtifactError(RuntimeError):
    """An artifact on disk cannot be used; the message names the file and what to do."""


def _remove_stale(path: Path) -> None:
    """Create the parent folder; remove temporaries that a killed writer of `path` left."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Temporary files are private (0600, 0700) until they become artifacts, which get the modes
# any file made by this user gets (others on a shared cluster can read the results).
FILE_MODE, DIR_MODE = 0o666 & ~_umask(), 0o777 & ~_umask()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    _remove_stale(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    _remove_stale(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, DIR_MODE)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def save_tensors(
    tensors: dict[str, torch.Tensor], path: str | os.PathLike, metadata: dict | None = None
) -> None:
    """Write tensors as safetensors, atomically, with optional JSON-able metadata.

    The metadata is stored as one JSON string: safetensors orders several metadata keys at
    random, which would make equal artifacts differ byte for byte.
    """
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    meta = {"pdiff": json.dumps(metadata, sort_keys=True)} if metadata else None
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)


def load_metadata(path: str | os.PathLike) -> dict:
    """The metadata that `save_tensors` stored with a file ({} when none)."""
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError) as e:
        raise ArtifactError(f"{path}: not a readable safetensors file ({e})") from e
    return json.loads(meta["pdiff"]) if "pdiff" in meta else {}


def load_tensors(path: str | os.PathLike, check_finite: bool = True) -> dict[str, torch.Tensor]:
    """Read a safetensors file; a missing, corrupt or non-finite file is an ArtifactError."""
    path = Path(path)
    if not path.exists():
        raise ArtifactError(f"{path}: file not found")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise ArtifactError(
            f"{path}: not a readable safetensors file ({e}); "
            "delete it and rerun the rule that writes it"
        ) from e
    if check_finite:
        for name, t in tensors.items():
            if t.is_floating_point() and not torch.isfinite(t).all():
                raise ArtifactError(f"{path}: tensor '{name}' holds NaN or Inf values")
    return tensors


def save_json(obj, path: str | os.PathLike) -> None:
    """Write JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def load_json(path: str | os.PathLike):
    """Read JSON; a missing or malformed file is an ArtifactError."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ArtifactError(f"{path}: cannot read JSON ({e})") from e


def load_table(path: str | os.PathLike, columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a CSV table that a stage wrote; a missing, unreadable or truncated one (without
    the `columns` it must have, or without rows) is an ArtifactError naming the file."""
    path = Path(path)
    try:
        df = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise ArtifactError(
            f"{path}: cannot read the table ({e}); delete it and rerun the rule that writes it"
        ) from e
    missing = [c for c in columns if c not in df.columns]
    if missing or df.empty:
        what = f"lacks the columns {missing}" if missing else "has no rows"
        raise ArtifactError(
            f"{path}: {what}; it is truncated or not pdiff's: delete it and "
            "rerun the rule that writes it"
        )
    return df


def save_table(
    df: pd.DataFrame,
    csv_path: str | os.PathLike,
    md_path: str | os.PathLike | None = None,
    floatfmt: str = ".2f",
) -> None:
    """Write a table as CSV (and Markdown when asked), atomically."""
    with atomic_path(csv_path) as tmp:
        df.to_csv(tmp, index=False)
    if md_path is not None:
        with atomic_path(md_path) as tmp:
            # object columns keep integers (K, counts) as integers next to floats
            tmp.write_text(df.astype(object).to_markdown(index=False, floatfmt=floatfmt) + "\n")


def save_text(text: str, path: str | os.PathLike) -> None:
    """Write a text file (Markdown), atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def save_module(module: nn.Module, config: dict, path: str | os.PathLike) -> None:
    """Write a module's weights with the config that rebuilds it (in the file's metadata)."""
    save_tensors(module.state_dict(), path, metadata={"config": config})


def load_module(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """Read weights and the config stored beside them by `save_module`."""
    tensors = load_tensors(path)
    meta = load_metadata(path)
    if "config" not in meta:
        raise ArtifactError(
            f"{path}: no config in the file's metadata; it was not written by "
            "pdiff (delete it and rerun the rule that writes it)"
        )
    return tensors, meta["config"]
