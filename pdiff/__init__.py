"""pdiff: Neural Network Diffusion (p-diff) as a reproducible pipeline."""

__version__ = "0.1.0"


def __getattr__(name):
    """`pdiff.load_model` and `pdiff.ParameterGenerator`, imported when first used (they
    import torch; the workflow's scripts import submodules directly)."""
    if name == "load_model":
        from pdiff.export import load_model

        return load_model
    if name == "ParameterGenerator":
        from pdiff.generator import ParameterGenerator

        return ParameterGenerator
    raise AttributeError(f"module 'pdiff' has no attribute '{name}'")
