"""Watchium's HTTP functions: every endpoint of :data:`watchium_wire.ENDPOINTS` as an ASGI app.

``create_app()`` builds the app (``uvicorn --factory watchium_functions:create_app``); every
function is ``POST /functions/v1/<name>``, served by one SQL call as the caller;
``openapi_document()`` describes them. Refusals are :class:`FunctionError` with a catalogue code.

Shared with the local stack, as public modules: :mod:`watchium_functions.asgi` (the ASGI
primitives), :mod:`watchium_functions.tokens` (JWT verification),
:mod:`watchium_functions.jwks` (the published signing keys) and
:mod:`watchium_functions.apikeys` (publishable and secret keys).
"""

from __future__ import annotations

import logging

from watchium_functions._app import FunctionsApp, create_app
from watchium_functions._errors import FunctionError, from_database_error
from watchium_functions._openapi import FUNCTIONS_PREFIX, openapi_document
from watchium_functions._settings import BODY_LIMIT, FunctionsSettings

__all__ = [
    "BODY_LIMIT",
    "FUNCTIONS_PREFIX",
    "FunctionError",
    "FunctionsApp",
    "FunctionsSettings",
    "create_app",
    "from_database_error",
    "openapi_document",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
