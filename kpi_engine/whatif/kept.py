"""Values derived once from a long-lived object (a prepared schedule, an engine result) and kept while it lives.

A what-if slider recomputes many scenarios on one snapshot; what every recomputation
derives from the snapshot alone is derived on the first one and looked up afterwards.
Entries are keyed by the objects' identities and dropped when any of them is
garbage-collected, so a new snapshot never sees an older one's values and nothing piles up.

>>> rows = kept(schedule, "rows", lambda: {mid: i for i, mid in enumerate(ids)})  # doctest: +SKIP
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_KEPT: dict[tuple[object, ...], tuple[list[weakref.ref[Any]], Any]] = {}
#: Re-entrant: the collector may run :func:`_forget` (a finalizer) at any allocation, also
#: in a thread that holds the lock already; a plain lock would then wait for itself for good.
_LOCK = threading.RLock()


def kept(owner: object, name: str, derive: Callable[[], T], *also: object) -> T:
    """Return ``derive()`` for ``owner``, computed on the first call and kept until ``owner`` is collected.

    Parameters
    ----------
    owner
        The object the value is derived from; it must not change afterwards (frozen).
    name
        What the value is, so one owner can keep several.
    derive
        Computes the value from ``owner`` (and ``also``).
    also
        Further objects the value depends on: it is reused only with these same objects.
    """
    sources = (owner, *also)
    key = (name, *(id(source) for source in sources))
    with _LOCK:
        held = _KEPT.get(key)
        if held is not None and all(ref() is source for ref, source in zip(held[0], sources, strict=True)):
            return held[1]
    value = derive()
    with _LOCK:
        _KEPT[key] = ([weakref.ref(source) for source in sources], value)
    for source in sources:
        weakref.finalize(source, _forget, key)
    return value


def _forget(key: tuple[object, ...]) -> None:
    """Drop the value once any object it was derived from is gone."""
    with _LOCK:
        held = _KEPT.get(key)
        if held is not None and any(ref() is None for ref in held[0]):
            del _KEPT[key]
