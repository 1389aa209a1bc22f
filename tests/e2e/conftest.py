"""The end-to-end tests use the session's gateway (the ``stack`` fixture of tests/conftest.py);
the party they drive (clients, sessions, simulated players, drift checks) is in
``tests/e2e/_party.py``."""
