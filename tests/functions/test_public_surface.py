"""The package's public surface, and the shape every endpoint module keeps."""

from __future__ import annotations

import importlib
import pkgutil

import functions


def test_public_names() -> None:
    assert set(functions.__all__) == {
        "BODY_LIMIT",
        "ENDPOINTS",
        "FUNCTIONS_PREFIX",
        "Endpoint",
        "FunctionError",
        "FunctionsApp",
        "FunctionsSettings",
        "create_app",
        "from_database_error",
        "lookup",
        "openapi_document",
        "registered_codes",
    }
    for name in functions.__all__:
        assert getattr(functions, name) is not None


def test_every_module_declares_all_and_endpoints_are_one_per_module() -> None:
    modules = [m.name for m in pkgutil.iter_modules(functions.__path__)]
    endpoint_modules = [m for m in modules if not m.startswith("_")]
    assert sorted(endpoint_modules) == sorted(n.replace("-", "_") for n in functions.ENDPOINTS)
    for name in modules:
        module = importlib.import_module(f"functions.{name}")
        assert isinstance(module.__all__, list) and module.__all__, name
        for exported in module.__all__:
            assert hasattr(module, exported), (name, exported)
    for name, endpoint in functions.ENDPOINTS.items():
        module = importlib.import_module(f"functions.{name.replace('-', '_')}")
        assert endpoint.handle is module.handle
        assert endpoint.request.model_config.get("extra") == "forbid"
