"""Imports every family module so their @register calls run. Add new family modules here."""

from . import custom  # noqa: F401
