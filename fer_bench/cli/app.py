"""The `fer-bench` command. Each command group lives in its own module and registers itself here.

User errors (FerBenchError) are printed as one red line and exit with status 2; no traceback.
"""

from __future__ import annotations

import importlib
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import typer
from rich.console import Console

from ..errors import FerBenchError

app = typer.Typer(
    name="fer-bench",
    help="Benchmark facial expression recognition: reproducible runs, sweeps and leaderboards.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)

#: command modules; each defines register(app)
COMMAND_MODULES = (
    "fer_bench.cli.run_cmd",
    "fer_bench.cli.datasets_cmd",
    "fer_bench.cli.models_cmd",
    "fer_bench.cli.btfer_cmd",
    "fer_bench.cli.evaluate_cmd",
    "fer_bench.cli.export_cmd",
    "fer_bench.cli.ensemble_cmd",
)

for _mod in COMMAND_MODULES:
    try:
        importlib.import_module(_mod).register(app)
    except ModuleNotFoundError as _exc:  # a command group not written yet
        if _exc.name != _mod:
            raise


def main() -> None:
    """Console-script entry point: run the app, turning FerBenchError into a one-line message."""
    try:
        rc = app(standalone_mode=False)  # non-standalone click returns typer.Exit codes instead of exiting
    except FerBenchError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):  # click turns Ctrl-C into Abort
            err_console.print("[yellow]interrupted[/]")
            sys.exit(130)
        raise
    if isinstance(rc, int) and rc != 0:
        sys.exit(rc)


if __name__ == "__main__":
    main()
