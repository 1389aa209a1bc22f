"""The test run's gateway: :mod:`watchium_stack.harness` against the ``database`` fixture.

``start_stack(database)`` launches the harness's gateway subprocess on a free port and stops it
when the database is closed. The session fixture ``stack`` (tests/conftest.py) is the one to
use; :class:`~watchium_stack.harness.Stack` documents its attributes and methods. Tests of the
sign-up limit itself run their own :class:`~watchium_stack.auth.AuthService` with another client
address.
"""

from __future__ import annotations

from tests._pg import PROJECT_DIR, TestDatabase
from watchium_stack.harness import SIGNUPS_PER_HOUR, Stack, launch_gateway
from watchium_stack.keys import KeyModel

__all__ = ["Stack", "start_stack"]


def start_stack(
    database: TestDatabase,
    *,
    signups_per_hour: int = SIGNUPS_PER_HOUR,
    key_model: KeyModel = "current",
    settings: dict[str, str] | None = None,
) -> Stack:
    """Start the gateway against ``database`` on a free port, issuing the keys of
    ``key_model``, with more ``WATCHIUM_*`` ``settings``; it stops with the database.

    Raises:
        RuntimeError: the gateway did not start (with its log).
    """
    stack = launch_gateway(
        database.url,
        signups_per_hour=signups_per_hour,
        project_dir=PROJECT_DIR,
        key_model=key_model,
        settings=settings,
    )
    database._cleanup.append(stack.stop)
    return stack
