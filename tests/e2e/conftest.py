"""The end-to-end tests use the session's gateway (the ``stack`` fixture of tests/conftest.py);
helpers are in ``tests/e2e/_party.py``."""
