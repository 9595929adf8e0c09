"""Typer command-line interface. Thin: parse options, call the library, print with rich."""
