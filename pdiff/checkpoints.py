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


def base_state(model, path: Path, network: str) -> dict[str, torch.Tensor]:
    """The network's full weights from one of your checkpoints, checked to be complete and to
    fit the network; loaded into `model`."""
    state = load_checkpoint(path)
    missing = [n for n in model.state_dict() if n not in state]
    if missing:
        raise ArtifactError(
            f"{path}: lacks {len(missing)} of the network's tensors ({missing[:5]}...); the "
            f"base weights must be complete: set checkpoints.base to the full weights the "
            f"checkpoints were trained from"
        )
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise ArtifactError(f"{path}: does not fit network '{network}' ({e})") from e
    return state


def first_checkpoints(folder: str, k: int) -> list[Path]:
    """The first K checkpoint files of your folder (name order)."""
    files = list_checkpoints(folder)
    if len(files) < k:
        raise ArtifactError(
            f"{folder}: {len(files)} checkpoints, but K={k} is asked for; lower collect.k "
            f"(and ablations.k) to at most {len(files)}"
        )
    return files[:k]


def subset_sources(
    files: list[Path], subset, location: str, base: dict[str, torch.Tensor], differ: list
):
    """The subset's tensors of each checkpoint file, one dict per file, each checked against
    the first's names and shapes and against the subset; the names of those that differ
    from the base outside the subset go to `differ`."""
    first = load_checkpoint(files[0])
    for f in files:
        state = first if f == files[0] else load_checkpoint(f)
        check_like(f, state, first, files[0])
        try:
            subset.flatten(state)
        except (KeyError, ValueError) as e:
            raise ArtifactError(f"{f}: does not match the subset '{location}' ({e})") from e
        if differing_outside(state, base, subset.names):
            differ.append(f.name)
        yield {n: state[n] for n in subset.names}
