"""Rule generate: N latents sampled with the variant's sampler, decoded and de-normalized
into parameter rows."""

from pdiff import runtime
from pdiff.autoencoder import NoisyAutoencoder
from pdiff.evaluation import finite_rows
from pdiff.generator import TrainedLDM, draw, parse_sampler
from pdiff.io import save_tensors
from pdiff.matrix import ParameterMatrix

with runtime.output_to(snakemake.log[0]):
    cfg, i, w = snakemake.params.cfg, snakemake.input, snakemake.wildcards
    import pdiff.diffusion  # noqa: F401  (diffusers, imported before the start-up is logged)

    device = runtime.setup(int(w.seed), snakemake.threads, cfg["device"])
    matrix, n = ParameterMatrix.load(i.matrix), cfg["generate"]["n"]
    params, latents = draw(
        NoisyAutoencoder.load(i.ae),
        TrainedLDM.load(i.ldm),
        matrix.mean,
        matrix.std,
        n=n,
        seed=int(w.seed),
        sampler=w.sampler,
        device=device,
    )
    kind, steps = parse_sampler(w.sampler)
    bad = int((~finite_rows(params)).sum())
    runtime.get_logger("generate").info(
        f"{n} sets sampled with {kind}, {steps} steps; {bad} hold NaN or Inf"
    )
    save_tensors(
        {"params": params, "latents": latents},
        snakemake.output[0],
        metadata={"sampler": kind, "steps": steps},
    )
