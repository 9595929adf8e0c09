"""The `fer-bench` command. Each command group lives in its own module and registers itself here.

Every way a command line can go wrong ends in one line on stderr and a non-zero status, never a traceback:

* user errors (:class:`FerBenchError`, raised by our own checks): ``error: ...``, status 2;
* usage errors found by the parser (unknown command or option, missing argument, a value of the wrong type):
  ``error: ... (see 'fer-bench CMD --help')``, status 2 (the parser's "Did you mean ...?" hint kept);
* Ctrl-C: the :data:`INTERRUPTED` line, status 130.

``fer-bench`` alone, and a command group alone (``fer-bench datasets``), print the help and exit 0.

The parser's exception classes are looked up from the click that typer actually uses: typer >= 0.26 ships its
own copy (``typer._click``) whose exceptions are not ``click``'s (``import click`` would miss them all, and
typer >= 0.26 does not even depend on click), older typer uses ``click`` itself.
"""

from __future__ import annotations

import importlib
import re
import sys
from types import ModuleType

import typer
from rich.console import Console
from rich.markup import escape

from .. import tfenv
from ..errors import FerBenchError

#: the line printed on Ctrl-C (runs keep a checkpoint per finished epoch; finished runs are skipped on re-run)
INTERRUPTED = ("interrupted; run the same command again to continue: finished runs are kept and a run "
               "resumes from its last finished epoch, if one finished")

app = typer.Typer(
    name="fer-bench",
    help="Benchmark facial expression recognition: reproducible runs, sweeps and leaderboards.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)


@app.callback()
def _global_options(
    verbose: bool = typer.Option(
        False, "--verbose", "-v",
        help="Show TensorFlow's native start-up messages (hidden by default; env FER_BENCH_VERBOSE=1 too).",
    ),
) -> None:
    if verbose:
        tfenv.set_verbose(True)
    tfenv.install()


#: command modules; each defines register(app)
COMMAND_MODULES = (
    "fer_bench.cli.run_cmd",
    "fer_bench.cli.status_cmd",
    "fer_bench.cli.publish_cmd",
    "fer_bench.cli.datasets_cmd",
    "fer_bench.cli.models_cmd",
    "fer_bench.cli.btfer_cmd",
    "fer_bench.cli.evaluate_cmd",
    "fer_bench.cli.export_cmd",
    "fer_bench.cli.ensemble_cmd",
    "fer_bench.cli.video_cmd",
    "fer_bench.cli.report_cmd",
    "fer_bench.cli.predict_cmd",
)

for _mod in COMMAND_MODULES:
    try:
        importlib.import_module(_mod).register(app)
    except ModuleNotFoundError as _exc:  # a command group not written yet
        if _exc.name != _mod:
            raise


def _tidy_typer_help() -> None:
    """Two display quirks of typer >= 0.27's rich help, undone where present (feature-detected, so older and
    newer typers are untouched): every flag, --help included, got a ``<bool>`` type as if it took a value, and
    usage lines wrote required arguments as ``{model}``. Usage lines go back to click's convention:
    ``MODEL`` (required), ``[MODEL]`` (optional), ``MEMBERS...`` (several)."""
    core = getattr(typer, "core", None)
    option_cls = getattr(core, "TyperOption", None)
    argument_cls = getattr(core, "TyperArgument", None)
    display_type_rich = getattr(option_cls, "display_type_rich", None)
    if display_type_rich is not None and not getattr(display_type_rich, "_fer_bench", False):
        def flag_display_type_rich(self, ctx):
            if getattr(self, "is_flag", False) and self.metavar is None:
                return None  # a flag takes no value: no type column
            return display_type_rich(self, ctx)

        flag_display_type_rich._fer_bench = True
        option_cls.display_type_rich = flag_display_type_rich
    usage_name = getattr(argument_cls, "_usage_display_name", None)
    if usage_name is not None and not getattr(usage_name, "_fer_bench", False):
        def click_usage_display_name(self) -> str:
            name = self.metavar or (self.name or "").upper()
            if not self.required:
                name = f"[{name}]"
            if self.nargs != 1 and not name.endswith("..."):
                name += "..."
            return name

        click_usage_display_name._fer_bench = True
        argument_cls._usage_display_name = click_usage_display_name


_tidy_typer_help()


def _parser_exceptions() -> ModuleType:
    """The exceptions module of the click typer runs on, found through typer's own re-export: ``typer._click``
    (typer >= 0.26, its private copy of click) or ``click`` (older typer)."""
    return sys.modules[typer.BadParameter.__module__]


def _one_line(text: str) -> str:
    """Whitespace collapsed; a sentence repeated back to back said once (typer 0.2x and click 8.2+ each append
    "Did you mean 'run'?" to an unknown command)."""
    out: list[str] = []
    for sentence in re.split(r"(?<=[.?!])\s+", " ".join(str(text).split())):
        if not out or sentence != out[-1]:
            out.append(sentence)
    return " ".join(out)


def _fail(message: str, status: int = 2) -> None:
    err_console.print(f"[bold red]error:[/] {escape(_one_line(message))}", highlight=False, soft_wrap=True)
    sys.exit(status)


def _interrupted() -> None:
    err_console.print(f"[yellow]{escape(INTERRUPTED)}[/]", highlight=False, soft_wrap=True)
    sys.exit(130)


def _usage_error(exc) -> None:
    """A parser error as one line: the parser's message and where to look for help."""
    ctx = getattr(exc, "ctx", None)
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None and getattr(ctx, "command_path", "") else ""
    _fail(f"{message}{hint}", getattr(exc, "exit_code", 2) or 2)


_SIGINT_SEEN = False


def _on_sigint(signum, frame):
    """Ctrl-C: remember it, then interrupt as Python does. Some third-party import code catches every exception
    (bare ``except:``), which can swallow the KeyboardInterrupt; the flag makes the command still end as
    interrupted (measured: a SIGINT during ``models show`` under heavy load once let it finish with status 0)."""
    global _SIGINT_SEEN
    _SIGINT_SEEN = True
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app; errors, usage mistakes and Ctrl-C end in one line."""
    import signal
    import threading

    exc_mod = _parser_exceptions()
    no_args_is_help = getattr(exc_mod, "NoArgsIsHelpError", None)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _on_sigint)
    try:
        rc = app(args=argv, standalone_mode=False)  # non-standalone: exit codes come back instead of exiting
    except FerBenchError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _interrupted()
    except typer.Abort:  # click (and typer < 0.26) turn Ctrl-C into Abort
        _interrupted()
    except exc_mod.ClickException as exc:
        if no_args_is_help is not None and isinstance(exc, no_args_is_help):
            # click >= 8.2 reports "no arguments" as an error carrying the help; with rich help the help has
            # already been printed to stdout and the message is empty. Help was asked for: status 0.
            text = exc.format_message()
            if text.strip():
                print(text)
            sys.exit(0)
        _usage_error(exc)
    if rc == 130 or _SIGINT_SEEN:  # typer >= 0.26 turns Ctrl-C into a silent Exit(130); or it was swallowed
        _interrupted()
    if isinstance(rc, int) and rc != 0:
        sys.exit(rc)


if __name__ == "__main__":
    main()
