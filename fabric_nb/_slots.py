"""Tools for the frozen slots dataclasses of :mod:`fabric_nb.models`, which applies them.

Two things a model needs and no caller should write twice:

- :func:`checked_constructor`, the constructor decoders use for values they
  have already checked (half the cost of the frozen ``__init__``);
- :class:`HeldOutputs`, the descriptor ``models`` puts on
  ``IngestedJob.outputs``: the slot may hold the tuple itself, or a compact
  stand-in (a loaded job's packed outputs) whose ``unpack()`` builds the
  tuple on each read.

``models`` imports this module and applies both in plain sight, so reading
``models.py`` tells the whole truth about an ``IngestedJob``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any, Generic, Protocol, TypeVar

__all__ = ["HeldOutputs", "Unpackable", "checked_constructor"]

_T = TypeVar("_T")
_Item = TypeVar("_Item")
_Item_co = TypeVar("_Item_co", covariant=True)


def checked_constructor(cls: type[_T]) -> Callable[..., _T]:
    """A constructor for the frozen slots dataclass ``cls`` that trusts its values.

    It takes every field (positionally in field order, or by name) and stores
    each value straight into its slot: no frozen ``__init__`` (one indirect
    call per field) and no ``__post_init__``, so it costs about half as much.
    For decoders that build hundreds of thousands of objects from values they
    have already checked; the caller answers for the values.
    """
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    scope: dict[str, Any] = {"new": object.__new__, "cls": cls}
    scope.update({f"set_{name}": cls.__dict__[name].__set__ for name in names})
    lines = [f"def build({', '.join(names)}):", "    obj = new(cls)"]
    lines += [f"    set_{name}(obj, {name})" for name in names]
    lines.append("    return obj")
    exec("\n".join(lines), scope)  # straight-line code: a loop would cost half the gain
    build: Callable[..., _T] = scope["build"]
    build.__qualname__ = build.__name__ = f"checked_{cls.__name__}"
    build.__doc__ = f"A {cls.__name__} of values already checked, in field order."
    return build


class Unpackable(Protocol[_Item_co]):
    """A compact stand-in for a tuple: sized, and ``unpack()`` builds the tuple.

    What a :class:`HeldOutputs` slot may hold instead of the tuple itself.
    """

    def __len__(self) -> int: ...

    def unpack(self) -> tuple[_Item_co, ...]:
        """The tuple this stands for, built anew."""
        ...


class HeldOutputs(Generic[_Item]):
    """A field whose slot holds a tuple, or an :class:`Unpackable` that stands for one.

    Reading the attribute always gives the tuple (built fresh from a stand-in,
    nothing cached); :meth:`held` gives what the slot holds, for code that
    reads many objects' values without building them. Writing stores the
    value as given (the dataclass's own ``__init__`` and ``__setattr__`` go
    through here).
    """

    def __init__(self, slot: Any) -> None:
        self.held: Callable[[Any], tuple[_Item, ...] | Unpackable[_Item]] = slot.__get__
        self._set = slot.__set__

    def __get__(self, obj: object | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        value = self.held(obj)
        if type(value) is tuple:
            return value
        # A stand-in unpacks; anything else (a list ``__post_init__`` is about
        # to make a tuple) is given back as held.
        unpack = getattr(value, "unpack", None)
        return value if unpack is None else unpack()

    def __set__(self, obj: object, value: object) -> None:
        self._set(obj, value)
