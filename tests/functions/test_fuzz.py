"""Property-based fuzzing of every function from its own OpenAPI document (schemathesis):
valid and invalid bodies alike, never a 5xx, never an answer outside the document.

Bounded and reproducible: a fixed number of examples per function, derandomized.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests._stack import Stack
from watchium_functions import openapi_document
from watchium_wire import ENDPOINTS

EXAMPLES = 25


@pytest.fixture(scope="module")
def schema(stack: Stack) -> Any:
    return schemathesis.openapi.from_dict(openapi_document(stack.url))


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_fuzz_function(stack: Stack, schema: Any, name: str, mode: GenerationMode) -> None:
    operation = schema[f"/functions/v1/{name}"]["POST"]
    # One user per function: its rate limits fill up, and 429 is an answer the document lists.
    headers = stack.headers(stack.access_token())
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    if mode is GenerationMode.NEGATIVE:
        checks.append(negative_data_rejection)

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(base_url=stack.url, headers=headers)
        case.validate_response(response, checks=checks)

    run()
