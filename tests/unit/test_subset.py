import pytest
import torch

from pdiff.subset import LayerPatternError, ParameterSubset, normalization_stats


def test_layout_round_trip_is_exact(cnn, last_two_bn):
    params = {n: p.detach() for n, p in cnn.named_parameters()}
    row = last_two_bn.flatten(params)
    assert row.shape == (last_two_bn.dim,)
    back = last_two_bn.unflatten(row)
    assert list(back) == list(last_two_bn.names)
    for n, t in back.items():
        assert torch.equal(t, params[n])


def test_layout_offsets_and_dict_round_trip(last_two_bn):
    d = last_two_bn.to_dict()
    assert d["offsets"][0] == 0
    assert d["offsets"][-1] + last_two_bn.numels[-1] == d["dim"]
    assert ParameterSubset.from_dict(d) == last_two_bn


def test_unflatten_keeps_batch_dimensions(last_two_bn):
    rows = torch.randn(3, 5, last_two_bn.dim)
    out = last_two_bn.unflatten(rows)
    assert out["bn3.weight"].shape == (3, 5, 8)


def test_patterns_keep_network_order_and_match_only_what_is_asked(cnn):
    sub = ParameterSubset.from_model(cnn, ["bn4.*", "bn3.weight"])
    assert sub.names == ("bn3.weight", "bn4.weight", "bn4.bias")


def test_pattern_that_matches_nothing_lists_the_names(cnn):
    with pytest.raises(LayerPatternError) as e:
        ParameterSubset.from_model(cnn, ["bn9.*"])
    assert "bn9.*" in str(e.value) and "conv1.weight" in str(e.value)


def test_flatten_rejects_wrong_shapes(cnn, last_two_bn):
    params = {n: p.detach() for n, p in cnn.named_parameters()}
    params["bn3.weight"] = torch.zeros(3)
    with pytest.raises(ValueError, match="bn3.weight"):
        last_two_bn.flatten(params)


def test_normalization_is_per_tensor(last_two_bn):
    torch.manual_seed(0)
    m = torch.randn(10, last_two_bn.dim)
    m[:, :8] = m[:, :8] * 5 + 3  # bn3.weight on its own scale
    mean, std = normalization_stats(m, last_two_bn)
    z = (m - mean) / std
    idx = last_two_bn.tensor_index()
    for i in range(len(last_two_bn.names)):
        block = z[:, idx == i]
        assert block.mean().abs() < 1e-5
        assert (block.std(unbiased=False) - 1).abs() < 1e-5


def test_normalization_of_a_single_constant_row_does_not_divide_by_zero(last_two_bn):
    m = torch.ones(1, last_two_bn.dim)
    mean, std = normalization_stats(m, last_two_bn)
    assert torch.isfinite((m - mean) / std).all()


def test_normalization_stats_and_round_trip_by_hand():
    # tensor a (2 values) and b (1 value); a's four values 1, 3, 3, 5: mean 3, population
    # std sqrt(2); b is constant (10, 10): mean 10, std 0, so its scale is 1
    subset = ParameterSubset(("a", "b"), ((2,), (1,)))
    m = torch.tensor([[1.0, 3.0, 10.0], [3.0, 5.0, 10.0]])
    mean, std = normalization_stats(m, subset)
    assert mean.tolist() == [3.0, 3.0, 10.0]
    assert torch.allclose(std, torch.tensor([2**0.5, 2**0.5, 1.0]))
    z = (m - mean) / std
    assert torch.allclose(
        z, torch.tensor([[-2, 0, 0], [0, 2, 0]]) / torch.tensor([2**0.5, 2**0.5, 1.0])
    )
    assert torch.allclose(z * std + mean, m)  # swapped mean and std would not come back
