import importlib
import subprocess
import sys
import types

import pytest

import modelcycle
import modelcycle.exceptions
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


def test_exceptions_are_the_standard_ones_scikit_learn_expects() -> None:
    from sklearn.exceptions import NotFittedError as SklearnNotFittedError

    from modelcycle.exceptions import ConfigError, DataError, NotFittedError, SchemaError

    assert issubclass(NotFittedError, SklearnNotFittedError)
    assert issubclass(NotFittedError, modelcycle.ModelcycleError)
    assert issubclass(NotFittedError, AttributeError)
    assert NotFittedError.__qualname__ == "NotFittedError"
    assert modelcycle.NotFittedError is NotFittedError
    for error in (DataError, SchemaError, ConfigError):
        assert issubclass(error, ValueError)
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        _ = modelcycle.exceptions.Nope  # type: ignore[attr-defined]


def test_importing_the_exceptions_does_not_import_scikit_learn() -> None:
    code = (
        "import sys\n"
        "from modelcycle.exceptions import DataError, ModelcycleError\n"
        "print('sklearn' in sys.modules)\n"
        "from modelcycle.exceptions import NotFittedError\n"
        "print('sklearn' in sys.modules, NotFittedError.__mro__[2].__module__)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout == "False\nTrue sklearn.exceptions\n", result.stderr
