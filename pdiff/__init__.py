"""pdiff: Neural Network Diffusion (p-diff) as a reproducible pipeline."""

__version__ = "0.1.0"
