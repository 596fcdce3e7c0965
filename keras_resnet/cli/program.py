"""`keras-resnet`: parse and check the arguments (before Keras or TensorFlow is imported,
which takes seconds, so that --help and mistakes answer at once), run the command, and turn its
failure into one line and an exit status: 2 bad input, 1 the machine, 130 Ctrl-C. The line
names each argument as it was typed (--data-dir, MODEL), not as the library's parameter."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NoReturn

from keras_resnet.cli.commands import COMMANDS, CommandFailed
from keras_resnet.core.quiet import quiet_tensorflow
from keras_resnet.training.config import default_output

# what Keras 3 reads from KERAS_BACKEND (keras/src/backend/__init__.py; an empty value: its default, tensorflow
# or ~/.keras/keras.json's); the package is tested on the first three
KERAS_BACKENDS = ("tensorflow", "jax", "torch", "numpy", "openvino")

# library parameters named otherwise than the argument (its `dest`) that the command passes them
ALIASES = {"model_file": "model", "architecture": "model"}  # library parameters that MODEL feeds

DESCRIPTION = """`keras-resnet` command line: `table` (the paper's Table 1 from the built models, and the
family beside its references), `weights` (the registry), `convert` (published weights),
`train`, `evaluate`, `predict`, `export` and `explain`."""


def build_parser() -> argparse.ArgumentParser:
    """The command line, its commands as `COMMANDS` lists them; each takes --verbose too."""
    parser = argparse.ArgumentParser(prog="keras-resnet", description=DESCRIPTION)
    verbose = argparse.ArgumentParser(add_help=False)  # also after the command, without resetting it there
    for each, default in ((parser, False), (verbose, argparse.SUPPRESS)):
        each.add_argument("--verbose", action="store_true", default=default,
                          help="show TensorFlow's own log lines (hidden by default)")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        subparser = commands.add_parser(name, parents=[verbose], help=command.help)
        command.options(subparser)
        subparser.set_defaults(typed=typed_names(subparser))
    return parser


def typed_names(parser: argparse.ArgumentParser) -> dict[str, str]:
    """How each argument of `parser` is typed, by its `dest` and by the library parameters that
    receive it (`ALIASES`): an option by its long name (data_dir: --data-dir), a positional
    argument by its metavar (model, model_file: MODEL)."""
    typed = {}
    for action in parser._actions:  # argparse keeps its arguments there; it has no public list
        long = [o for o in action.option_strings if o.startswith("--")] or action.option_strings
        typed[action.dest] = long[0] if long else action.metavar or action.dest.upper()
    return {**typed, **{alias: typed[dest] for alias, dest in ALIASES.items() if dest in typed}}


def as_typed(text: str, typed: Mapping[str, str]) -> str:
    """`text` (a library's message) with the parameters it names as the user typed them:
    "`data_dir`" becomes "--data-dir", "weights='x'" "--weights 'x'", "model='x'" "MODEL 'x'"."""
    text = re.sub(r"`(\w+)`", lambda m: typed.get(m[1], m[0]), text)
    # name=value, not inside a quoted path ('a/b=c.png'), a URL's query (?a=b&c=d) nor a comparison (==)
    return re.sub(r"(?<![\w'\"/.=?&-])(\w+)=(?!=)", lambda m: f"{typed[m[1]]} " if m[1] in typed else m[0], text)


def refuse(parser: argparse.ArgumentParser, error: BaseException | str) -> NoReturn:
    """Exit 2 with `error` (a library's message) naming the arguments as `parser`'s user typed them."""
    parser.error(as_typed(str(error), typed_names(parser)))


def main(argv: Sequence[str] | None = None) -> int:
    """Run `keras-resnet ARGV` (default: sys.argv); 0, or SystemExit with the failure's status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    backend = os.environ.get("KERAS_BACKEND")
    if backend and backend not in KERAS_BACKENDS:  # else Keras' ValueError, raised inside TensorFlow's import
        _fail(parser, args, 2, f"the environment variable KERAS_BACKEND must be one of "
              f"{', '.join(KERAS_BACKENDS)} (or unset); received KERAS_BACKEND={backend!r}.")
    if hasattr(sys.stdout, "reconfigure"):  # file names that are not UTF-8 print as their own bytes
        sys.stdout.reconfigure(errors="surrogateescape")
    command = COMMANDS[args.command]
    try:
        command.check(args)  # before Keras and TensorFlow: every refusal that needs no model, at once
        if command.keras:
            quiet_tensorflow(args.verbose)  # imports Keras too, whose own checks (~/.keras/keras.json) then fail here
        command.run(args)
    except CommandFailed as e:
        _fail(parser, args, e.status, e.error)
    except ValueError as e:  # bad input, found before anything was written
        _fail(parser, args, 2, e)
    except (OSError, ImportError) as e:  # the machine: disk, network, permissions, a missing package
        after = (" Every file of the run holds its last finished epoch (none is written in place); fix the "
                 "cause and run the command again to resume.") if _run_started(args) else ""
        _fail(parser, args, 1, e, after)
    except KeyboardInterrupt:  # Ctrl-C: what is kept and how to go on, not a traceback
        kept = (f"every file of {_run_output(args)} holds its last finished epoch; run the same command again to "
                "resume" if _run_started(args) else "nothing was written (outputs are replaced only when complete)")
        _fail(parser, args, 130, f"interrupted; {kept}.")
    return 0


def _run_output(args: argparse.Namespace) -> Path:
    return Path(args.output or default_output(args.model))


def _run_started(args: argparse.Namespace) -> bool:
    """A `train` run that wrote its config.json (a run that never started leaves nothing)."""
    return args.command == "train" and (_run_output(args) / "config.json").is_file()


def _fail(parser: argparse.ArgumentParser, args: argparse.Namespace, status: int, error: BaseException | str,
          after: str = "") -> None:
    """Exit with `status` and one line on stderr: the error's own text, its parameters as typed
    (`as_typed`), never a traceback."""
    text = " ".join(line.strip() for line in str(error).splitlines() if line.strip()) or type(error).__name__
    if after:
        text = f"{text.rstrip('.')}.{after}"
    parser.exit(status, f"keras-resnet {args.command}: error: {as_typed(text, args.typed)}\n")
