"""Bring-your-own code: a config value 'package.module:function' names a Python callable."""

from __future__ import annotations

import importlib
import inspect
import re

# The form the schema accepts besides the known names (data.name, network.name).
PATTERN = r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$"


class CallableError(ImportError):
    """A configured 'module:function' cannot be imported or is not a function."""


def is_callable_name(name: str) -> bool:
    """Whether a config name is a 'module:function' reference rather than a known name."""
    return re.match(PATTERN, name) is not None


def load_callable(spec: str, key: str):
    """Import the function named by 'package.module:function' (`key` names the config key)."""
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        # Not found at all (a path problem) reads differently from a module that fails inside.
        name = getattr(e, "name", None) or ""
        missing = module_name == name or module_name.startswith(name + ".")
        fix = (
            f"put the folder that holds '{module_name.split('.')[0]}' on PYTHONPATH "
            f"(e.g. PYTHONPATH=$PWD snakemake ...) or pip install its package"
            if missing
            else "fix the import error inside that module"
        )
        raise CallableError(
            f"{key} '{spec}': cannot import module '{module_name}' "
            f"({type(e).__name__}: {e}). Fix: {fix}"
        ) from e
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise CallableError(
            f"{key} '{spec}': module '{module_name}' ({module.__file__}) has no "
            f"function '{attr}'; fix the name after the colon"
        )
    return fn


def call_with_accepted(fn, kwargs: dict, optional: dict):
    """fn(**kwargs), plus those `optional` keywords its signature accepts (kwargs win)."""
    params = inspect.signature(fn).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    extra = {k: v for k, v in optional.items() if takes_any or k in params}
    return fn(**{**extra, **kwargs})
