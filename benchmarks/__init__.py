"""fer-bench's benchmark scripts, importable as a package.

Each script is a module with one ``measure_*`` function per measurement (each returns a dict) and a ``main()``
that parses arguments, calls them and writes the results; :mod:`benchmarks.harness` holds what they share.
Run them from the repository root as ``python benchmarks/<name>.py ...`` or ``python -m benchmarks.<name> ...``
(see benchmarks/README.md). Importing a module measures nothing.
"""
