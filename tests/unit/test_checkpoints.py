import pytest
import torch

from pdiff.checkpoints import check_like, differing_outside, list_checkpoints, load_checkpoint
from pdiff.io import ArtifactError, save_tensors


def test_folder_lists_checkpoints_in_name_order(tmp_path):
    for name in ("b.pt", "a.safetensors", "c.pth", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [f.name for f in list_checkpoints(tmp_path)] == ["a.safetensors", "b.pt", "c.pth"]


def test_missing_or_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ArtifactError, match="is not a folder"):
        list_checkpoints(tmp_path / "nowhere")
    with pytest.raises(ArtifactError, match="holds no"):
        list_checkpoints(tmp_path)


def test_state_dicts_load_from_every_format(tmp_path, cnn):
    state = cnn.state_dict()
    torch.save(state, tmp_path / "plain.pt")
    torch.save({"state_dict": state, "epoch": 3}, tmp_path / "wrapped.pth")
    save_tensors({k: v.contiguous() for k, v in state.items()}, tmp_path / "s.safetensors")
    for name in ("plain.pt", "wrapped.pth", "s.safetensors"):
        loaded = load_checkpoint(tmp_path / name)
        assert loaded.keys() == state.keys()
        assert all(torch.equal(loaded[k], state[k]) for k in state)


def test_pickled_objects_are_refused_not_executed(tmp_path, cnn):
    torch.save(cnn, tmp_path / "module.pt")  # a whole module: needs weights_only=False
    with pytest.raises(ArtifactError, match="module.pt: not a loadable PyTorch state dict"):
        load_checkpoint(tmp_path / "module.pt")
    torch.save([torch.zeros(2)], tmp_path / "list.pt")
    with pytest.raises(ArtifactError, match="list.pt: holds a list, not a dict of tensors"):
        load_checkpoint(tmp_path / "list.pt")


def test_nan_weights_name_the_file_and_tensor(tmp_path):
    torch.save({"w": torch.tensor([1.0, float("nan")])}, tmp_path / "bad.pt")
    with pytest.raises(ArtifactError, match="bad.pt: tensor 'w' holds NaN"):
        load_checkpoint(tmp_path / "bad.pt")


def test_checkpoints_that_disagree_name_the_file(tmp_path):
    ref = {"a": torch.zeros(3), "b": torch.zeros(2)}
    first, other = tmp_path / "0.pt", tmp_path / "7.pt"
    with pytest.raises(
        ArtifactError,
        match=r"7.pt: its tensor names differ from 0.pt's "
        r"\(missing: \['b'\], extra: \['c'\]\)",
    ):
        check_like(other, {"a": torch.zeros(3), "c": torch.zeros(2)}, ref, first)
    with pytest.raises(ArtifactError, match=r"7.pt: tensor 'a' has shape \(4,\), 0.pt has \(3,\)"):
        check_like(other, {"a": torch.zeros(4), "b": torch.zeros(2)}, ref, first)
    check_like(other, {"a": torch.ones(3), "b": torch.ones(2)}, ref, first)


def test_tensors_outside_the_subset_that_moved_are_found():
    base = {"a": torch.zeros(2), "b": torch.zeros(2), "c": torch.zeros(1)}
    state = {"a": torch.ones(2), "b": torch.zeros(2), "c": torch.ones(1)}
    assert differing_outside(state, base, ("a",)) == ["c"]
