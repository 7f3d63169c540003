"""Fixtures of the unit and workflow tests; helpers they import are in helpers.py."""

import pytest
import torch
from helpers import TINY, snakemake

from pdiff.networks import small_cnn
from pdiff.subset import ParameterSubset


@pytest.fixture
def cnn():
    """A small CNN with non-trivial BatchNorm statistics."""
    torch.manual_seed(0)
    model = small_cnn(channels=(4, 8, 8), hidden=16)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


@pytest.fixture
def last_two_bn(cnn):
    return ParameterSubset.from_model(cnn, ["bn3.*", "bn4.*"])


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tiny")
    snakemake(workdir, "--configfile", str(TINY))
    return workdir
