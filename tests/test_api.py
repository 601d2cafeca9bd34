import importlib
import types

import pytest

import modelcycle
import modelcycle.split


@pytest.mark.parametrize("name", modelcycle.__all__)
def test_every_public_name_resolves_to_what_it_names(name: str) -> None:
    value = getattr(modelcycle, name)
    assert not isinstance(value, types.ModuleType), f"{name} is shadowed by a submodule"
    if name != "__version__":
        assert value.__module__.startswith("modelcycle")


def test_public_names_are_exported_by_their_modules() -> None:
    for name, module in modelcycle._EXPORTS.items():
        assert name in importlib.import_module(module).__all__, (name, module)


def test_unknown_attribute() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        _ = modelcycle.nope


def test_all_lists_exactly_the_exports() -> None:
    assert set(modelcycle.__all__) == {"__version__", *modelcycle._EXPORTS}
