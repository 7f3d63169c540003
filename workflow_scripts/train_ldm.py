"""Rule train_ldm: the latent DDPM of one denoiser's ldm settings on the sources' encoded
(noise-free) latents."""

import torch

from pdiff import runtime
from pdiff.autoencoder import NoisyAutoencoder
from pdiff.generator import fit_ldm
from pdiff.io import save_json
from pdiff.matrix import ParameterMatrix

with runtime.output_to(snakemake.log[0], resumes=snakemake.output.ldm):
    import pdiff.diffusion  # noqa: F401  (diffusers, imported before the start-up is logged)

    i, o, seed = snakemake.input, snakemake.output, int(snakemake.wildcards.seed)
    device = runtime.setup(seed, snakemake.threads, snakemake.params.cfg["device"])
    matrix = ParameterMatrix.load(i.matrix)
    with torch.no_grad():
        latents = NoisyAutoencoder.load(i.ae).to(device).encode(matrix.normalized.to(device))
    log, latents = runtime.get_logger("train_ldm").info, latents.cpu()
    settings = {"ldm": snakemake.params.ldm, "seed": seed}
    resume = runtime.Resume(o.ldm, {**settings, "latents": runtime.tensor_digest(latents)}, log)
    ldm, metrics = fit_ldm(
        latents, snakemake.params.ldm, seed=seed, device=device, log=log, resume=resume
    )
    ldm.save(o.ldm)
    save_json(metrics, o.metrics)
    resume.done()
