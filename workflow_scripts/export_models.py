"""Rule export_models: the best generated sets on validation (or all) as complete networks
with their metadata, a models.csv and a model card, and the variant's generator as one
folder (pdiff.export, pdiff.generator.ParameterGenerator)."""

from pdiff import runtime
from pdiff.autoencoder import NoisyAutoencoder
from pdiff.evaluation import EVALUATION_COLUMNS
from pdiff.export import choose, write_models
from pdiff.generator import ParameterGenerator, TrainedLDM, network_spec
from pdiff.io import load_table, load_tensors
from pdiff.matrix import ParameterMatrix

with runtime.output_to(snakemake.log[0]):
    # The variant's own generator settings (its denoiser's, and that denoiser's autoencoder).
    p, i, x = snakemake.params, snakemake.input, snakemake.params.cfg["export"]
    cfg = {**p.cfg, "ae": p.ae, "ldm": p.ldm}
    matrix, base = ParameterMatrix.load(i.matrix, i.layout), load_tensors(i.base)
    network, preds = network_spec(cfg, i.data), load_tensors(i.predictions)
    generator = ParameterGenerator(
        NoisyAutoencoder.load(i.ae),
        TrainedLDM.load(i.ldm),
        matrix.mean,
        matrix.std,
        matrix.subset,
        base,
        network,
        snakemake.wildcards.sampler,
    )
    table = write_models(
        load_tensors(i.generated, check_finite=False)["params"],
        choose(load_table(i.evaluation, EVALUATION_COLUMNS), x["top"], x["all"]),
        base,
        matrix.subset,
        matrix.rows,
        preds["generated_predictions"],
        preds["source_predictions"],
        preds["test_labels"],
        network,
        {**p.provenance, "subset_dim": matrix.subset.dim, "config": cfg},
        snakemake.output[0],
        generator,
    )
    runtime.get_logger("export_models").info(
        f"{len(table)} models exported to {snakemake.output[0]}: test acc "
        f"{', '.join(f'{a:.2f}' for a in table.test_acc)}"
    )
