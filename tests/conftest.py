"""Test-wide setup: the hub guard (see hubguard.py) applies to every test."""

from hubguard import hub_guard, pytest_configure

__all__ = ["hub_guard", "pytest_configure"]
