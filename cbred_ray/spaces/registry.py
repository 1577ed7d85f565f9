"""The registry of search spaces: every space, built in or a user's, is found here by name.

A space is a :class:`~cbred_ray.spaces.base.Space` subclass; its parameters are the pydantic model
``Params`` it declares (validated when a config is loaded, without importing torch) and it is built
by ``cls.from_params(params)``. Three ways in, looked up in this order:

1. the built-in spaces (:data:`BUILTIN`: ``nb201``, ``cell``, ``nb101``, ``macro``, ``darts``);
2. the ``cbred_ray.spaces`` entry-point group of any installed distribution::

       [project.entry-points."cbred_ray.spaces"]
       tiny = "my_package.spaces:TinySpace"

3. a config naming an importable class, ``space: {name: "my_package.spaces:TinySpace", ...}``;

and, from Python, :func:`register_space` (a decorator, as timm's ``register_model``) for a class
defined in a script or a notebook. :func:`list_spaces` lists every registered name. Entries are
held as ``module:Class`` strings and imported on first use, so listing and validating import
nothing heavy.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib import metadata
from typing import TYPE_CHECKING, TypeVar

from pydantic_core import to_jsonable_python

from cbred_ray.errors import BadInput

if TYPE_CHECKING:
    from cbred_ray.spaces.base import Space

ENTRY_POINT_GROUP = "cbred_ray.spaces"
BUILTIN: dict[str, str] = {
    "nb201": "cbred_ray.spaces.cell:NB201Space",
    "cell": "cbred_ray.spaces.cell:CellSpace",
    "nb101": "cbred_ray.spaces.nb101:NB101Space",
    "macro": "cbred_ray.spaces.macro:MacroSpace",
    "darts": "cbred_ray.spaces.darts:DartsSpace",
}
"""The spaces that ship with the package, as ``module:Class``."""

_registered: dict[str, type[Space] | str] = {}
S = TypeVar("S", bound=type)


def register_space(name: str | None = None) -> Callable[[S], S]:
    """Class decorator: register a :class:`Space` subclass under ``name`` (default: its ``name``
    attribute), for the Python process that runs it; a Ray worker receives the class with the space
    object itself, so the registration need not reach it. Re-registering a name replaces it."""

    def register(cls: S) -> S:
        key = name or getattr(cls, "name", None)
        if not isinstance(key, str) or not key:
            raise BadInput(f"register_space: {cls.__name__} needs a name (give one, or set the class's name)")
        _registered[key] = cls
        return cls

    return register


def _entry_points() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def list_spaces() -> list[str]:
    """Every registered name: the built-in spaces, then entry points, then spaces registered in Python."""
    names = list(BUILTIN)
    names += [n for n in sorted(_entry_points()) if n not in names]
    names += [n for n in _registered if n not in names]
    return names


def _import(target: str, what: str) -> type:
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise BadInput(f"{what} {target!r}: name a class as 'package.module:Class'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise BadInput(f"{what} {target!r}: cannot import {module_name!r} ({err})") from None
    try:
        obj = module
        for part in attr.split("."):
            obj = getattr(obj, part)
    except AttributeError:
        raise BadInput(f"{what} {target!r}: module {module_name!r} has no {attr!r}") from None
    return obj


def space_class(name: str) -> type[Space]:
    """The class registered under ``name``, or the class a ``module:Class`` name points to; BadInput
    naming the space when there is none (or it is not a :class:`Space`)."""
    from cbred_ray.spaces.base import Space

    if not isinstance(name, str) or not name:
        raise BadInput(f"a space is named by a non-empty string, got {name!r}")
    if name in _registered:
        found = _registered[name]
    elif name in BUILTIN:
        found = _import(BUILTIN[name], f"built-in space {name!r}")
    elif name in (points := _entry_points()):
        try:
            found = points[name].load()
        except Exception as err:  # noqa: BLE001 - a broken plug-in is the user's to fix: say which
            raise BadInput(f"space {name!r} (entry point {points[name].value!r}): cannot load it "
                           f"({type(err).__name__}: {err})") from None
    elif ":" in name:
        found = _import(name, "space")
    else:
        raise BadInput(f"unknown space {name!r} (registered: {', '.join(list_spaces())}; or name a class as "
                       "'package.module:Class')")
    if not (isinstance(found, type) and issubclass(found, Space)):
        raise BadInput(f"space {name!r} is {found!r}, not a subclass of cbred_ray.spaces.Space")
    return found


def build_space(name: str, params: dict | None = None) -> Space:
    """The space ``name`` with its parameters ``params`` (validated by its ``Params``)."""
    cls = space_class(name)
    return cls.from_params(cls.validate_params(params or {}, name))


def describe_spaces() -> list[dict]:
    """Every registered space: its name, where it comes from, its parameters (type, default, description)
    and its size at the defaults (null, with the reason, where it cannot be built or listed)."""
    rows = []
    for name in list_spaces():
        try:
            cls = space_class(name)
        except BadInput as err:
            rows.append({"name": name, "error": str(err)})
            continue
        params = {key: {"type": getattr(field.annotation, "__name__", str(field.annotation)),
                        "default": None if field.is_required() else
                        to_jsonable_python(field.get_default(call_default_factory=True)),
                        "required": field.is_required(), "description": field.description}
                  for key, field in cls.Params.model_fields.items()}
        row = {"name": name, "class": f"{cls.__module__}:{cls.__qualname__}", "summary": _summary(cls),
               "parameters": params}
        try:
            row["size"] = build_space(name).size
        except (BadInput, NotImplementedError) as err:
            row["size"], row["size_note"] = None, str(err) or type(err).__name__
        rows.append(row)
    return rows


def _summary(cls: type) -> str:
    return (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
