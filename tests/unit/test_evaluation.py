from collections import OrderedDict

import pytest
import torch
from torch import nn

from pdiff.evaluation import (
    PatchStem,
    accuracy,
    predict_sets,
    predict_sets_reference,
    split_network,
    weight_average,
)
from pdiff.networks import small_cnn
from pdiff.subset import ParameterSubset

CPU = torch.device("cpu")


def _sets(model, subset, n, scale=0.3):
    row = subset.flatten({k: v.detach() for k, v in model.named_parameters()})
    g = torch.Generator().manual_seed(1)
    return row + scale * torch.randn(n, subset.dim, generator=g)


@pytest.mark.parametrize("sets_per_batch", [1, 3, "auto"])  # a loop, vmap, the CPU's choice
def test_fast_and_reference_predictions_agree(cnn, last_two_bn, sets_per_batch):
    x = torch.randn(300, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    sets = _sets(cnn, last_two_bn, 7)
    fast = predict_sets(
        cnn, last_two_bn, sets, x, CPU, batch_size=128, sets_per_batch=sets_per_batch
    )
    ref = predict_sets_reference(cnn, last_two_bn, sets, x, CPU, batch_size=128)
    assert fast.shape == (7, 300)
    assert torch.equal(fast, ref)
    # the sets really differ, so agreement is not trivial
    assert len({tuple(p.tolist()) for p in fast}) > 1


@pytest.mark.parametrize("sets_per_batch", [1, 3])
def test_fast_path_agrees_for_an_early_layer(cnn, sets_per_batch):
    subset = ParameterSubset.from_model(cnn, ["conv1.weight", "bn1.*"])
    x = torch.randn(64, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    sets = _sets(cnn, subset, 4, scale=0.05)
    assert torch.equal(
        predict_sets(cnn, subset, sets, x, CPU, sets_per_batch=sets_per_batch),
        predict_sets_reference(cnn, subset, sets, x, CPU),
    )


def _strided_stem_net():
    torch.manual_seed(4)
    return nn.Sequential(
        OrderedDict(
            conv=nn.Conv2d(3, 5, 3, stride=2, padding=1),
            relu=nn.ReLU(),
            flatten=nn.Flatten(),
            head=nn.Linear(5 * 8 * 8, 10),
        )
    ).eval()


@pytest.mark.parametrize(
    ("model", "size", "pooled"),
    [
        (small_cnn(channels=(4, 8, 16), hidden=24, batchnorm=False), 28, True),
        (small_cnn(channels=(4, 8, 8), hidden=16), 27, True),  # odd: MaxPool2d drops a row
        (_strided_stem_net(), 16, False),
    ],
)
def test_whole_networks_predict_through_the_patch_stem_as_through_the_convolution(
    model, size, pooled
):
    """Every parameter generated: the first convolution runs as a product over patches
    (pooled where a 2x2 max-pool follows it), and every prediction is the network's own."""
    model = model.eval()
    subset = ParameterSubset.from_model(model, ["*"])
    stem = PatchStem.of(split_network(model, subset)[1])
    assert stem is not None and stem.pool == pooled
    channels = model[0].in_channels
    x = torch.randn(200, channels, size, size, generator=torch.Generator().manual_seed(5))
    sets = _sets(model, subset, 6)
    fast = predict_sets(model, subset, sets, x, CPU, batch_size=64, sets_per_batch=1)
    assert torch.equal(fast, predict_sets_reference(model, subset, sets, x, CPU))
    assert len({tuple(p.tolist()) for p in fast}) > 1


def test_the_patch_stem_is_only_taken_for_few_input_channels_and_small_kernels():
    conv = nn.Sequential(nn.Conv2d(4, 8, 3), nn.ReLU())
    assert PatchStem.of(conv) is None  # 4 input channels: the convolution's kernel is faster
    assert PatchStem.of(nn.Sequential(nn.Conv2d(3, 9, 3, groups=3), nn.ReLU())) is None
    assert PatchStem.of(nn.Sequential(nn.Conv2d(1, 8, 3), nn.MaxPool2d(3))).pool is False
    assert PatchStem.of(nn.Sequential(nn.Conv2d(3, 8, 5), nn.ReLU())) is None  # 25x the images


def test_reference_path_restores_the_model(cnn, last_two_bn):
    before = {k: v.clone() for k, v in cnn.state_dict().items()}
    predict_sets_reference(
        cnn, last_two_bn, _sets(cnn, last_two_bn, 2), torch.randn(8, 1, 28, 28), CPU
    )
    for k, v in cnn.state_dict().items():
        assert torch.equal(v, before[k])


def test_weight_average_is_the_uniform_mean():
    m = torch.tensor([[1.0, 2.0], [3.0, 6.0]])
    assert torch.equal(weight_average(m), torch.tensor([[2.0, 4.0]]))


def test_accuracy_in_percent():
    preds = torch.tensor([[0, 1, 2, 3], [0, 0, 0, 0]])
    labels = torch.tensor([0, 1, 2, 0])
    assert accuracy(preds, labels).tolist() == [75.0, 50.0]
