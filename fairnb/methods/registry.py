"""Methods registered by name.

A method module in ``fairnb/methods/`` registers its classes with
:func:`register_method`; every such module is imported the first time a
name is looked up, so adding a method is one new file there. Methods
outside the package register the same way when their module is imported,
or are listed in the ``FAIRNB_METHODS`` environment variable
(comma-separated module names), which notebooks import too.
"""
from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
from typing import Callable

_REGISTRY: dict[str, Callable] = {}
_SKIP = {"base", "registry"}


def register_method(name: str, factory: Callable | None = None, *,
                    replace: bool = False):
    """Register ``factory`` (a :class:`Method` subclass or a function of
    keyword options returning a method) under ``name``; usable as a
    decorator. Re-registering a name needs ``replace=True``."""

    def add(obj):
        old = _REGISTRY.get(name)
        if old is not None and old is not obj and not replace and (
                getattr(old, "__qualname__", None) != getattr(
                    obj, "__qualname__", None)):
            raise ValueError(f"A method named {name!r} is registered "
                             f"already ({old!r}); pass replace=True.")
        _REGISTRY[name] = obj
        return obj

    return add(factory) if factory is not None else add


def _discover() -> None:
    package = __name__.rpartition(".")[0]
    path = importlib.import_module(package).__path__
    for info in pkgutil.iter_modules(path):
        if info.name not in _SKIP and not info.name.startswith("_"):
            importlib.import_module(f"{package}.{info.name}")
    for module in os.environ.get("FAIRNB_METHODS", "").split(","):
        if module.strip():
            try:
                importlib.import_module(module.strip())
            except ImportError as exc:
                raise ImportError(
                    f"FAIRNB_METHODS names {module.strip()!r}, which "
                    f"cannot be imported ({exc}). Put its folder on "
                    "PYTHONPATH or fix the name.") from exc


def available_methods() -> tuple[str, ...]:
    """Registered method names, in registration order."""
    _discover()
    return tuple(_REGISTRY)


def method_factory(name: str) -> Callable:
    """The registered factory of ``name`` (error naming the choices)."""
    from ..attributes import check_choice
    check_choice("method", name, available_methods())
    return _REGISTRY[name]


def method_parameters(name: str) -> tuple[str, ...]:
    """Keyword options the method ``name`` accepts."""
    factory = method_factory(name)
    chain = [c.__init__ for c in factory.__mro__[:-1] if "__init__" in
             vars(c)] if inspect.isclass(factory) else [factory]
    names: list[str] = []
    for function in chain:  # **options pass on to the parent class
        params = inspect.signature(function).parameters.values()
        names += [p.name for p in params if p.name not in names and p.kind
                  in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
                  and p.name != "self"]
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    return tuple(names)


def make_method(name: str, **options):
    """Build the registered method ``name`` with keyword ``options``.

    Raises
    ------
    ValueError
        For an unknown name or an option the method does not take; both
        messages list the valid ones.

    Examples
    --------
    >>> make_method("fairclip", attribute="gender").weights
    {'gender': 1.0}
    """
    factory = method_factory(name)
    accepted = method_parameters(name)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(
            f"Method {name!r} takes no option {', '.join(map(repr, unknown))}"
            f". Its options: {', '.join(accepted) or 'none'}.")
    method = factory(**options)
    method.name = name
    return method
