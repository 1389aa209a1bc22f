"""Watchium SDK."""
