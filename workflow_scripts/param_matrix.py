"""Rule param_matrix: the first K checkpoints as a K x D matrix with its normalization and
layout (sources of several runs: the first K/R of each, aligned onto run 0 by weights when
asked)."""

from pdiff import data, runtime
from pdiff.io import load_table
from pdiff.matrix import ParameterMatrix
from pdiff.networks import configured_network
from pdiff.subset import ParameterSubset

with runtime.output_to(snakemake.log[0]):
    cfg, i, o, w = snakemake.params.cfg, snakemake.input, snakemake.output, snakemake.wildcards
    model = configured_network(cfg, data.load_splits(i.data), i.base)
    subset = ParameterSubset.from_model(model, cfg["locations"][w.location])
    table = load_table(i.table, ("checkpoint",)) if "table" in i.keys() else None
    align = w.align.removeprefix("-align-") or "none"
    log = runtime.get_logger("param_matrix").info
    matrix = ParameterMatrix.from_collection(
        model, subset, w.location, i.checkpoints, int(w.k), table, align, log
    )
    matrix.save(o.matrix, o.layout)
