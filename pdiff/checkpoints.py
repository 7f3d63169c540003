"""Your own checkpoints: a folder of state dicts read as the source models of p-diff."""

from __future__ import annotations

from pathlib import Path

import torch

from pdiff.io import ArtifactError, load_tensors

SUFFIXES = (".safetensors", ".pt", ".pth")


def list_checkpoints(folder: str) -> list[Path]:
    """The checkpoint files of a folder, in name order (that order makes "the first K")."""
    path = Path(folder)
    if not path.is_dir():
        raise ArtifactError(
            f"checkpoints.dir '{folder}' is not a folder; point it at a folder "
            f"of {'/'.join(SUFFIXES)} files"
        )
    files = sorted(f for f in path.iterdir() if f.suffix in SUFFIXES and f.is_file())
    if not files:
        raise ArtifactError(f"checkpoints.dir '{folder}' holds no {'/'.join(SUFFIXES)} file")
    return files


def load_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from safetensors, or from a PyTorch file loaded with weights_only=True
    (a dict of tensors, or such a dict under the key "state_dict" or "model")."""
    if path.suffix == ".safetensors":
        return load_tensors(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle errors come in many types
        raise ArtifactError(
            f"{path}: not a loadable PyTorch state dict ({type(e).__name__}: "
            f"{e}); save it with torch.save(model.state_dict(), path)"
        ) from e
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ArtifactError(
            f"{path}: holds a {type(state).__name__}, not a dict of tensors; "
            f"save it with torch.save(model.state_dict(), path)"
        )
    for name, t in state.items():
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise ArtifactError(f"{path}: tensor '{name}' holds NaN or Inf values")
    return state


def check_like(
    path: Path,
    state: dict[str, torch.Tensor],
    reference: dict[str, torch.Tensor],
    reference_path: Path,
) -> None:
    """Every checkpoint must have the first one's tensor names and shapes."""
    missing = sorted(set(reference) - set(state))
    extra = sorted(set(state) - set(reference))
    if missing or extra:
        raise ArtifactError(
            f"{path}: its tensor names differ from {reference_path.name}'s "
            f"(missing: {missing[:5]}, extra: {extra[:5]}); every checkpoint "
            f"must come from the same network"
        )
    for name, t in state.items():
        if t.shape != reference[name].shape:
            raise ArtifactError(
                f"{path}: tensor '{name}' has shape {tuple(t.shape)}, "
                f"{reference_path.name} has {tuple(reference[name].shape)}"
            )


def differing_outside(
    state: dict[str, torch.Tensor], base: dict[str, torch.Tensor], subset_names: tuple[str, ...]
) -> list[str]:
    """Names of tensors outside the subset whose values differ from the base's."""
    return [
        n
        for n, t in state.items()
        if n not in subset_names and n in base and not torch.equal(t, base[n])
    ]
