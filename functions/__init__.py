"""Watchium HTTP functions: one module per endpoint, served by an ASGI app.

``create_app()`` builds the app (``uvicorn --factory functions:create_app``); every function is
``POST /functions/v1/<name>``; ``openapi_document()`` describes them. Errors are the classes of
:mod:`functions._errors`, one per code.
"""

from __future__ import annotations

import logging

from functions._app import BODY_LIMIT, FunctionsApp, FunctionsSettings, create_app
from functions._endpoint import ENDPOINTS, Endpoint
from functions._errors import FunctionError, from_database_error, lookup, registered_codes
from functions._openapi import FUNCTIONS_PREFIX, openapi_document

__all__ = [
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
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
