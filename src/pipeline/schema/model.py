"""Loading the user's Pydantic model from a ``module:Model`` reference."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from pydantic import BaseModel

from pipeline.errors import ConfigError

__all__ = ["load_model"]

_FORM_HINT = "give the model as `package.module:ClassName`, e.g. `examples.claims.model:Claim`"


def load_model(reference: str, *, base_dir: Path | None = None) -> type[BaseModel]:
    """Import ``module:attr`` and return it if it is a Pydantic model class.

    The current working directory is importable, as with ``python -m``, so a
    model kept beside the data (``models.py`` in the project) is found; so is
    ``base_dir``, a spec's folder, as for its python steps (a model beside the
    spec was found only when run from there; found by review).
    """
    module_name, sep, attr_path = reference.partition(":")
    if not sep or not module_name.strip() or not attr_path.strip():
        raise ConfigError(
            f"schema reference {reference!r} is not of the form module:Model",
            hint=_FORM_HINT,
            key="schema",
        )
    cwd = str(Path.cwd())
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    if base_dir is not None and str(base_dir) not in sys.path:
        sys.path.insert(0, str(base_dir))
    try:
        module = importlib.import_module(module_name.strip())
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"schema reference {reference!r}: module {exc.name or module_name!r} cannot be found",
            hint="check the module path and run from the directory that contains the package "
            "(or install it); " + _FORM_HINT,
            key="schema",
        ) from exc
    except Exception as exc:  # any error raised while importing user code
        raise ConfigError(
            f"schema reference {reference!r}: importing module {module_name!r} failed "
            f"({type(exc).__name__})",
            hint="run `python -c 'import " + module_name.strip() + "'` to see the error",
            key="schema",
        ) from exc
    obj: object = module
    for part in attr_path.strip().split("."):
        if not hasattr(obj, part):
            raise ConfigError(
                f"schema reference {reference!r}: {module_name!r} has no attribute {attr_path!r}",
                hint="check the class name after the colon; " + _FORM_HINT,
                key="schema",
            )
        obj = getattr(obj, part)
    if not (isinstance(obj, type) and issubclass(obj, BaseModel)) or obj is BaseModel:
        raise ConfigError(
            f"schema reference {reference!r} is not a Pydantic model class "
            f"(got {type(obj).__name__})",
            hint="point it at a subclass of pydantic.BaseModel; " + _FORM_HINT,
            key="schema",
        )
    return obj
