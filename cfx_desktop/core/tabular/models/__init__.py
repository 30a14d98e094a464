"""The patient models behind one interface (`TabularModel`), the architecture registry and the built-in
architectures (each module registers itself when `ARCHITECTURES` is first read).

Everything here but `model_name` imports torch, so it loads on first use (see `core.lazy`): the Patient form
paints before torch loads.
"""

from cfx_desktop.core.lazy import lazy_attributes


def model_name(schema, architecture: str) -> str:  # noqa: ANN001 - a Schema; typed loosely to stay import-free
    """The bundle name of a dataset's model: ``{schema.name}-{architecture}``."""
    return f"{schema.name}-{architecture}"


__getattr__ = lazy_attributes(__name__, {
    "Hyper": "base", "Preprocessor": "base", "TabularModel": "base",
    "ARCHITECTURES": "registry", "TabularArchitecture": "registry", "build_net": "registry", "load_model": "registry",
    "register": "registry",
})

__all__ = ["ARCHITECTURES", "Hyper", "Preprocessor", "TabularArchitecture", "TabularModel", "build_net",
           "load_model", "model_name", "register"]
