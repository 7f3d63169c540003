"""The image networks: the small-image stem, pretrained weights from a file, input resizing,
timm as an optional extra, a user's 'module:function', and batched evaluation of a ResNet."""

import sys
import textwrap

import pytest
import torch
from safetensors.torch import save_file

from pdiff.callables import CallableError
from pdiff.evaluation import predict_sets, predict_sets_reference
from pdiff.networks import build_network
from pdiff.subset import ParameterSubset

CPU = torch.device("cpu")


def _randomize_bn(model):
    """Non-trivial BatchNorm statistics, so that a random network's outputs differ."""
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    return model.eval()


def test_resnet_has_the_small_image_stem_below_64_px_only():
    small = build_network("resnet18", 3, 10, 32)
    assert small.conv1.kernel_size == (3, 3) and small.conv1.stride == (1, 1)
    assert isinstance(small.maxpool, torch.nn.Identity)
    assert build_network("resnet18", 3, 10, 96).conv1.kernel_size == (7, 7)
    assert small(torch.randn(2, 3, 8, 8)).shape == (2, 10)


def test_vmapped_resnet_agrees_with_a_full_forward_per_set():
    """Batched BatchNorm weights under torch.func.vmap, in eval mode, on a whole ResNet."""
    torch.manual_seed(0)
    model = _randomize_bn(build_network("resnet18", 3, 10, 8))
    subset = ParameterSubset.from_model(model, ["layer4.1.bn1.*", "layer4.1.bn2.*"])
    row = subset.flatten({k: v.detach() for k, v in model.named_parameters()})
    sets = row + 2.0 * torch.randn(3, subset.dim, generator=torch.Generator().manual_seed(1))
    x = torch.randn(12, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    fast = predict_sets(model, subset, sets, x, CPU, batch_size=8, sets_per_batch=2)
    assert torch.equal(fast, predict_sets_reference(model, subset, sets, x, CPU, batch_size=8))
    assert len({tuple(p.tolist()) for p in fast}) > 1  # the sets really differ


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_pretrained_weights_from_a_file_with_a_new_head(tmp_path, suffix):
    source = build_network("resnet18", 3, 1000, 224).state_dict()
    path = tmp_path / f"weights{suffix}"
    save_file(source, str(path)) if suffix == ".safetensors" else torch.save(source, path)
    model = build_network("resnet18", 3, 10, 224, pretrained=str(path))
    own = model.state_dict()
    assert torch.equal(own["layer4.1.bn2.weight"], source["layer4.1.bn2.weight"])
    assert torch.equal(own["conv1.weight"], source["conv1.weight"])
    assert own["fc.weight"].shape == (10, 512)  # a new head for 10 classes


def test_pretrained_weights_of_another_network_name_the_file(tmp_path):
    path = tmp_path / "cnn.safetensors"
    save_file(build_network("small_cnn", 1, 10, 28).state_dict(), str(path))
    with pytest.raises(ValueError) as e:
        build_network("resnet18", 3, 10, 32, pretrained=str(path))
    assert str(path) in str(e.value) and "same architecture" in str(e.value)
    with pytest.raises(ValueError, match="no ImageNet weights"):
        build_network("small_cnn", 1, 10, 28, pretrained="imagenet")


def test_inputs_are_resized_and_grayscale_repeated_on_the_way_in():
    cnn = build_network("small_cnn", 1, 10, 28, input_size=32)
    assert cnn.fc.in_features == 64 * 4 * 4  # built for 32 px ...
    assert cnn(torch.randn(2, 1, 28, 28)).shape == (2, 10)  # ... fed 28 px
    resnet = build_network("resnet18", 1, 10, 28)
    assert resnet.conv1.in_channels == 3 and resnet(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_vit_tiny_without_timm_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "timm", None)  # makes `import timm` fail
    with pytest.raises(ImportError, match="pip install timm"):
        build_network("vit_tiny", 3, 10, 32)


USER_NETS = """
    from torch import nn


    def mlp(hidden, num_classes, image_size, in_channels):
        return nn.Sequential(nn.Flatten(), nn.Linear(in_channels * image_size ** 2, hidden),
                             nn.BatchNorm1d(hidden), nn.Linear(hidden, num_classes))


    def fixed(hidden=4):
        return nn.Linear(12, hidden)


    def not_a_network():
        return 42
"""


def test_a_users_network_gets_the_keywords_its_signature_takes(tmp_path, monkeypatch):
    (tmp_path / "user_nets.py").write_text(textwrap.dedent(USER_NETS))
    monkeypatch.syspath_prepend(str(tmp_path))
    mlp = build_network("user_nets:mlp", 2, 7, 6, hidden=5)
    assert mlp(torch.randn(3, 2, 6, 6)).shape == (3, 7)
    assert build_network("user_nets:fixed", 2, 7, 6).out_features == 4  # takes none of them
    with pytest.raises(TypeError, match="not a torch.nn.Module"):
        build_network("user_nets:not_a_network", 2, 7, 6)
    with pytest.raises(CallableError, match="user_nets:nope"):
        build_network("user_nets:nope", 2, 7, 6)
