"""Rexian."""
