"""The examples in kpi_engine's docstrings run, so they never drift from the code."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import kpi_engine

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(kpi_engine.__path__, "kpi_engine.")
    if info.name != "kpi_engine.__main__"
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed"


def test_the_examples_are_found() -> None:
    """Fails when the walk above misses the modules that hold examples."""
    finder = doctest.DocTestFinder()
    with_examples = [n for n in MODULES if any(t.examples for t in finder.find(importlib.import_module(n)))]
    assert "kpi_engine.core.rag" in with_examples
    assert len(with_examples) >= 5
