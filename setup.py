"""Builds the cffi extension (appliance.drivers._vb) at install time."""
from setuptools import setup

setup(cffi_modules=["appliance/drivers/_build.py:ffibuilder"])
