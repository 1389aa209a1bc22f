"""Watchium HTTP functions: one module per endpoint, served by an ASGI app."""
