"""The ``consensuslab`` command: list, run, reproduce, dashboard; serve, cluster, kv (live clusters).

Theory of operation
-------------------
A thin argparse front end; the work is in :mod:`consensuslab.reproduce` (orchestration over
:mod:`consensuslab.jobs`, :mod:`consensuslab.references` and :mod:`consensuslab.report`) and
:mod:`consensuslab.dashboard` (Voilà). Every subcommand
returns an exit code: 0 on success, 1 when a job failed, 2 for bad arguments (argparse's
convention; the message says which argument and what was expected).

``consensuslab reproduce`` runs the published-size experiments by default (about 2.5
minutes on 2 idle cores); ``--quick`` uses small samples (about 40 s): the intervals are wider,
and rows whose statistic depends on the sample size (maxima, thin tails) are marked "not
comparable in quick mode".
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["main", "build_parser"]


def _positive_int(name: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"`{name}` must be an int >= 1; got {text!r}.") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"`{name}` must be an int >= 1; got {value}.")
        return value

    return parse


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"`seed` must be an int >= 0; got {text!r}.") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"`seed` must be an int >= 0; got {value}.")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"`port` must be an int in [1, 65535]; got {text!r}.") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"`port` must be an int in [1, 65535]; got {value}.")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for the docs and the tests)."""
    from consensuslab import __version__

    parser = argparse.ArgumentParser(
        prog="consensuslab",
        description="A laboratory for fault-tolerant distributed systems: experiments, notebooks, reproduction report.",
    )
    parser.add_argument("--version", action="version", version=f"consensuslab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    sub.add_parser("list", help="list the experiments and notebooks", description="List the experiments and notebooks.")

    run = sub.add_parser("run", help="run one experiment and write data/results/NAME.csv + NAME.json",
                         description="Run one experiment; write its table and a JSON sidecar to data/results/.")
    run.add_argument("name", metavar="NAME", help="experiment name (see `consensuslab list`)")
    run.add_argument("--quick", action="store_true", help="small samples (seconds instead of up to a minute)")
    run.add_argument("--seed", type=_seed, default=0, help="root seed (default 0)")
    run.add_argument("--workers", type=_positive_int("workers"), default=None,
                     help="worker processes for the trials (default: one per CPU; 1 runs in this process)")

    rep = sub.add_parser(
        "reproduce", help="run every experiment and notebook, write the reproduction report",
        description="Run every experiment and notebook headless (in parallel), write executed notebooks, "
                    "HTML, result tables and report.html, and print a Markdown summary. Full-size runs are the default.",
    )
    mode = rep.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="full", action="store_false", help="small samples (about 40 s on 2 cores)")
    mode.add_argument("--full", dest="full", action="store_true",
                      help="published-size runs (the default; about 2.5 minutes on 2 cores)")
    rep.set_defaults(full=True)
    rep.add_argument("--only", nargs="+", metavar="NAME", default=None,
                     help="only these experiments/notebooks (name, notebook stem, number like 03, or topic)")
    rep.add_argument("--workers", type=_positive_int("workers"), default=None,
                     help="jobs at once: processes and notebook kernels (default: one per CPU)")
    rep.add_argument("--seed", type=_seed, default=0, help="seed for every experiment (default 0)")
    rep.add_argument("--out", type=Path, default=None, metavar="DIR",
                     help="where executed notebooks, HTML, figures and report.html go (default: output/)")
    rep.add_argument("--notebooks", type=Path, default=None, metavar="DIR", help="notebook folder (default: notebooks/)")
    rep.add_argument("--references", type=Path, default=None, metavar="DIR",
                     help="reference CSV folder (default: data/reference/)")
    rep.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")

    dash = sub.add_parser("dashboard", help="serve notebooks as live apps with Voila on 127.0.0.1",
                          description="Serve one notebook (or all of them) as a live app with Voila on 127.0.0.1, code hidden.")
    dash.add_argument("notebook", nargs="?", default=None, metavar="NOTEBOOK",
                      help="notebook path, stem, number (03) or topic; default: all notebooks")
    dash.add_argument("--port", type=_port, default=None, help="port (default: a free one)")
    dash.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    dash.add_argument("--quick", action="store_true", help="run the notebooks with small samples")
    from consensuslab.live.cli import add_commands

    add_commands(sub)
    return parser


def _cmd_list() -> int:
    from consensuslab.experiments.registry import all_experiments
    from consensuslab.notebook_runner import list_notebooks, notebook_title

    experiments = all_experiments()
    print("Experiments (consensuslab run NAME):")
    width = max((len(n) for n in experiments), default=0)
    for name, exp in experiments.items():
        print(f"  {name:<{width}}  {exp.description}")
    if not experiments:
        print("  (none registered)")
    notebooks = list_notebooks()
    print("\nNotebooks (consensuslab dashboard NAME):")
    width = max((len(p.stem) for p in notebooks), default=0)
    for path in notebooks:
        print(f"  {path.stem:<{width}}  {notebook_title(path)}")
    if not notebooks:
        print("  (none found)")
    return 0


def _cmd_run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from concurrent.futures import Executor, ProcessPoolExecutor

    import pandas as pd

    from consensuslab.experiments.registry import get
    from consensuslab.jobs import InlineExecutor, write_result
    from consensuslab.references import compare, load_references
    from consensuslab.report import reference_markdown

    try:
        exp = get(args.name)
    except ValueError as exc:
        parser.error(str(exc).replace("`name`", "NAME"))
    workers = args.workers or os.cpu_count() or 1
    executor: Executor = InlineExecutor() if workers == 1 else ProcessPoolExecutor(max_workers=workers)
    print(f"running {exp.name} ({'quick' if args.quick else 'full'}, seed {args.seed}, {workers} worker(s)): {exp.description}",
          flush=True)
    start = time.perf_counter()
    try:
        result = exp.run(quick=args.quick, seed=args.seed, executor=executor)
    except Exception:  # noqa: BLE001 - report and exit non-zero
        traceback.print_exc()
        print(f"experiment {exp.name} failed", file=sys.stderr)
        return 1
    finally:
        executor.shutdown()
    duration = time.perf_counter() - start
    csv_path, json_path = write_result(exp.name, result, seed=args.seed, quick=args.quick, duration=duration,
                                       description=exp.description)
    table = result.table
    with pd.option_context("display.max_rows", 20, "display.max_columns", 12, "display.width", 120):
        print(table.to_string(max_rows=20) if len(table) else "(empty table)")
    print(f"\n{len(table)} row(s) in {duration:.1f} s -> {csv_path} (+ {json_path.name})")
    if result.measured:
        try:
            refs = load_references()
        except ValueError as exc:
            print(f"reference data: {exc}", file=sys.stderr)
            refs = None
        if refs is not None:
            print("\nPublished numbers:")
            table = compare(refs, dict(result.measured), estimates=dict(result.estimates), quick=args.quick,
                            include_unmeasured=False)
            print(reference_markdown(table, width=70))
    return 0


def _cmd_reproduce(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from consensuslab.report import render_markdown
    from consensuslab.reproduce import reproduce

    if args.notebooks is not None and not args.notebooks.is_dir():
        parser.error(f"--notebooks must be an existing folder; got {str(args.notebooks)!r}.")
    if args.references is not None and not args.references.is_dir():
        parser.error(f"--references must be an existing folder; got {str(args.references)!r}.")
    try:
        report = reproduce(
            quick=not args.full, only=args.only, workers=args.workers, out_dir=args.out, seed=args.seed,
            notebooks_folder=args.notebooks, references=args.references, progress=args.progress,
        )
    except ValueError as exc:
        parser.error(str(exc))
    print(render_markdown(report, width=70), flush=True)
    if report.failures:
        print(f"{len(report.failures)} job(s) failed: {', '.join(o.name for o in report.failures)}", file=sys.stderr)
    return report.exit_code


def _cmd_dashboard(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from consensuslab.dashboard import resolve_notebook, serve

    if args.notebook is not None:
        try:
            resolve_notebook(args.notebook)
        except (ValueError, TypeError) as exc:
            parser.error(str(exc))
    try:
        return serve(args.notebook, port=args.port, open_browser=not args.no_browser, quick=args.quick)
    except ValueError as exc:
        parser.error(str(exc))
    except RuntimeError as exc:
        print(f"consensuslab dashboard: {exc}", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``consensuslab`` console script.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit code (0 success, 1 a job failed, 2 bad arguments via ``SystemExit``).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub: argparse.ArgumentParser = commands.choices[args.command]  # the command's own parser
    if args.command == "list":
        return _cmd_list()
    if args.command == "run":
        return _cmd_run(args, sub)
    if args.command == "reproduce":
        return _cmd_reproduce(args, sub)
    if args.command in ("serve", "cluster", "kv"):
        from consensuslab.live.cli import run

        return run(args)
    return _cmd_dashboard(args, sub)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
