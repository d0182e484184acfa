"""The ``facies-bench`` command: a thin layer over library functions.

Each subcommand lives in its own module under ``facies_bench.cli`` and exposes
``register(app, data_app)``; this module only assembles them and turns library errors into a
one-line message with a non-zero exit code.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import typer

from facies_bench.errors import FaciesBenchError

#: click's base of usage errors, whether typer bundles its own click or uses the click package.
_CLICK_EXCEPTION: type[Exception] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")

app = typer.Typer(name="facies-bench", help="Glacier facies dataset and benchmark harness (Maslov et al.).",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
data_app = typer.Typer(help="Build, inspect, download, convert and export datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")

#: Subcommand modules, in the order their commands appear in --help.
COMMAND_MODULES = (
    "spec", "data_synth", "data_release", "data_store", "score", "evaluate", "models", "fingerprint", "clean", "leaderboard", "map",
    "smb",
)


def _register_all() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"facies_bench.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"facies_bench.cli.{name}":
                continue
            raise
        module.register(app, data_app)


_register_all()


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details.")) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script.

    The package's own errors (:class:`~facies_bench.errors.FaciesBenchError`: bad input, missing
    data, a rejected run) become one line on stderr and exit code 2; usage errors (unknown option,
    missing argument, bad value) are shown by click with its exit code.  Anything else is a bug
    and propagates with its traceback.
    """
    try:
        rc = app(args=argv, standalone_mode=False)
        if isinstance(rc, int) and not isinstance(rc, bool) and rc:  # a command's typer.Exit(code)
            return rc
    except FaciesBenchError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        typer.secho("aborted", err=True)
        return 1
    except _CLICK_EXCEPTION as exc:
        usage: Any = exc  # a ClickException: show() and exit_code
        usage.show()
        return usage.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
