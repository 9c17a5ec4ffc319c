"""The ``eegbench`` command line: every click command lives in this package.

Library modules hold no click code; commands import the library lazily, so ``eegbench --help``,
``ls``, ``plugins`` and ``config`` import no torch. ``run``, ``config``, ``plugins`` and ``ls`` are
here; result commands in ``results.py``; commands on finished runs in ``tools.py``.
"""

from __future__ import annotations

import errno
import sys
import traceback
from typing import TYPE_CHECKING, Any

import click

from eegbench import plugins
from eegbench.contract.errors import EegbenchError
from eegbench.contract.registry import KINDS
from eegbench.progress import log_format, set_quiet

if TYPE_CHECKING:
    from pathlib import Path

    from eegbench.results.record import MetricValue, RunRecord

KIND_ALIASES = {k[:-1]: k for k in KINDS}


TRYOUT_OPTION = click.option(
    "--tryout",
    is_flag=True,
    help="Try a dataset offline with small models: MiniLM caption targets and a tiny GPT-2 "
    "trained on the training captions instead of the reference's CLIP and Mistral-7B, with "
    "settings that fit them (tryout=true). Not a network switch.",
)


class PathOf(click.Path):
    """A path that, where it exists, must be a regular file (``"file"``) or a folder; anything
    else (a directory, a device, a FIFO, a socket) is one line naming what it is."""

    def __init__(self, want: str, **kw: Any):
        super().__init__(**kw)
        self.want = want

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from eegbench.contract.errors import ConfigError
        from eegbench.io import path_kind

        kind = path_kind(value)
        ok = (None, "a regular file" if self.want == "file" else "a directory")
        if kind not in ok:
            name = param.human_readable_name if param is not None else "path"
            raise ConfigError(f"{name} {str(value)!r} is {kind}, not a {self.want}.")
        return super().convert(value, param, ctx)


class Group(click.Group):
    """Prints eegbench errors as one line (exit 2 for config errors); ``--debug`` adds traces."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EegbenchError as e:
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            click.echo(f"error: {e}", err=True)
            ctx.exit(e.exit_code)
        except KeyboardInterrupt as e:
            from eegbench.train.preemption import Interrupted

            if isinstance(e, Interrupted):  # SIGTERM/SIGINT under stop_politely: how to resume
                click.echo(e.line(), err=True)
                ctx.exit(e.exit_code)
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except OSError as e:
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            click.echo(f"error: {os_error_line(e)}", err=True)
            ctx.exit(1)


_OS_FIXES = {
    errno.EACCES: "check its permissions or choose another location",
    errno.EPERM: "check its permissions or choose another location",
    errno.EROFS: "the file system is read-only; choose a writable location",
    errno.ENOSPC: "the disk is full; free space or choose another location",
    errno.EDQUOT: "the disk quota is exceeded; free space or choose another location",
    errno.ENOENT: "check the path",
    errno.EISDIR: "give a file, not a folder",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
}


def os_error_line(e: OSError) -> str:
    """One line for an OS error: the path, what went wrong and the fix."""
    where = f" {str(e.filename)!r}" if e.filename else ""
    fix = _OS_FIXES.get(e.errno or 0, "check the path and the disk")
    reason = e.strerror or str(e).splitlines()[0]
    return f"cannot use{where}: {reason}; {fix}."


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.option("--quiet", "-q", is_flag=True, help="No progress and no log messages.")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: bars on a terminal, a plain line every EEGBENCH_PROGRESS_INTERVAL s (15) "
    "otherwise; json: one JSON object per event on stderr.",
)
@click.version_option(package_name="eegbench")
@click.pass_context
def cli(ctx: click.Context, debug: bool, quiet: bool, log_format: str) -> None:
    """Benchmark EEG-to-language decoding. Start with `eegbench run`.

    Listings and results go to stdout; progress, logs and errors go to stderr.

    \b
    Exit codes:
      0    success
      1    a problem with data, weights or a plugin (the message says which)
      2    a bad command line or config, or a failed preflight check
      130  interrupted (Ctrl-C), 143 stopped by SIGTERM; a run or bench says how to resume
    """
    from eegbench.progress import interval, set_log_format

    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    set_quiet(quiet)
    set_log_format(log_format)  # type: ignore[arg-type]
    try:
        interval()
    except EegbenchError as e:
        click.echo(f"error: {e}", err=True)
        ctx.exit(e.exit_code)


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("overrides", nargs=-1)
@click.option(
    "--config",
    "config_path",
    type=click.Path(),
    help="Start from this config file, or a shipped preset by name (thought2text).",
)
@click.option(
    "--dry-run", is_flag=True, help="Resolve the config, run the preflight checks, print, stop."
)
@click.option(
    "--resume",
    "resume_dir",
    type=click.Path(),
    help="Continue an interrupted run (its .partial-* folder) from its last checkpoint; a run "
    "stopped by SIGTERM or Ctrl-C prints this command ('interrupted by SIGTERM; resume with: "
    "eegbench run --resume DIR').",
)
@click.option(
    "--keep-failed", is_flag=True, help="Keep a failed run's folder as NAME.failed (error.txt)."
)
@click.option(
    "--fast-dev-run",
    is_flag=True,
    help="Rehearse: one batch per stage, a few test trials, every metric and control "
    "(fast_dev_run=true); the run is marked and leaderboards leave it out.",
)
@click.option(
    "--random-weights",
    is_flag=True,
    help="Build the CLIP target and the LLM with random weights, cut to 2 layers, where the "
    "weights are not at hand (random_weights=true); the run is marked.",
)
@TRYOUT_OPTION
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Train data-parallel in N processes (gloo on the CPU, NCCL with device=cuda: one GPU "
    "each); rank 0 evaluates and writes the run.",
)
def run(
    overrides: tuple[str, ...],
    config_path: str | None,
    dry_run: bool,
    resume_dir: str | None,
    keep_failed: bool,
    fast_dev_run: bool,
    random_weights: bool,
    tryout: bool,
    processes: int,
) -> None:
    """Train and evaluate one configuration.

    OVERRIDES: group=name (encoder=dilated), group.key=value (stage1.epochs=3), key=value (seed=1),
    eval.metrics=[accuracy,cider] with metrics.NAME.key=value (metrics.cider.tokenizer=java).
    """
    from eegbench.config import build_config, dump
    from eegbench.runner import execute
    from eegbench.train.device import setup

    cfg = None
    if resume_dir is not None:
        from eegbench.contract.errors import ConfigError

        if overrides or config_path or fast_dev_run or random_weights or tryout:
            raise ConfigError("--resume continues a run with its own config; drop the overrides.")
        if processes > 1:
            raise ConfigError("--resume continues a run in one process; drop --processes.")
    else:
        overrides += ("fast_dev_run=true",) if fast_dev_run else ()
        overrides += ("random_weights=true",) if random_weights else ()
        overrides += ("tryout=true",) if tryout else ()
        cfg = build_config(list(overrides), base=config_path)
        setup(cfg, warn=False)  # the device must exist here, dry run or not
        if dry_run:
            from eegbench.config.preflight import preflight

            preflight(cfg)
            click.echo(dump(cfg), nl=False)
            return
    record = execute(cfg, resume_from=resume_dir, processes=processes, keep_failed=keep_failed)
    if record is not None:  # None: a rank other than 0 under a launcher, which reports nothing
        _report_run(record.run_dir, record)


def _report_run(run_dir: Path, record: RunRecord) -> None:
    """The finished run's metrics on stdout: a table, or one JSON object (``--log-format json``)."""
    from eegbench.results.rundir import RunDir

    path = RunDir(run_dir).results
    if log_format() == "json":
        metrics = {
            k: {"value": m.value, "ci": list(m.ci) if m.ci else None}
            for k, m in record.metrics.items()
        }
        _echo_json({"results": str(path), "metrics": metrics})
        return
    _print_summary(record)
    _stdout().print(f"results: {path}", highlight=False)


def _print_summary(record: RunRecord) -> None:
    from rich.table import Table

    table = Table(title="test metrics")
    controls = list(record.controls)
    table.add_column("metric")
    table.add_column("run", justify="right")
    for c in controls:
        table.add_column(c, justify="right")
    for key, m in record.metrics.items():
        arrow = "↑" if m.higher_is_better else "↓"
        row = [f"{key} {arrow}", _fmt(m)]
        for c in controls:
            cm = record.metric(key, c)
            row.append(_fmt(cm) if cm else "")
        table.add_row(*row)
    out = _stdout()
    out.print(table)
    t = record.timings
    out.print(f"wall time {t['total']:.1f} s, peak memory {record.peak_memory_mb:.0f} MiB")


def _fmt(m: MetricValue) -> str:
    text = f"{m.value:.4f}"
    if m.ci:
        text += f" [{m.ci[0]:.3f}, {m.ci[1]:.3f}]"
    return text


@cli.command("config")
@click.argument("overrides", nargs=-1)
@click.option(
    "--config",
    "config_path",
    type=click.Path(),
    help="Start from this config file, or a shipped preset by name (thought2text).",
)
@click.option(
    "--explain",
    is_flag=True,
    help="One line per value with where it came from: plugin default, eegbench default, "
    "benchmark, config file (with line) or command line.",
)
@TRYOUT_OPTION
def show_config(
    overrides: tuple[str, ...], config_path: str | None, explain: bool, tryout: bool
) -> None:
    """Print the resolved config (defaults, benchmark, file, overrides) as YAML."""
    from eegbench.config import build_config, dump
    from eegbench.config import explain as explained

    overrides += ("tryout=true",) if tryout else ()
    cfg = build_config(list(overrides), base=config_path)
    click.echo(explained(cfg) if explain else dump(cfg), nl=False)


FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people, json for programs.",
)


def _stdout() -> Any:
    from rich.console import Console

    return Console(soft_wrap=True)


def _echo_json(obj: Any) -> None:
    import json

    click.echo(json.dumps(obj, indent=2, default=str))


@cli.command("plugins")
@FORMAT
def list_plugins(fmt: str) -> None:
    """Installed plugins, their hooks, and plugins that failed to load (to stdout)."""
    infos, failed = plugins.plugins(), plugins.failures()
    if fmt == "json":
        _echo_json(
            {
                "plugins": [
                    {
                        "name": p.name,
                        "distribution": p.dist,
                        "version": p.version,
                        "hooks": list(p.hooks),
                    }
                    for p in infos
                ],
                "failures": [
                    {"name": f.name, "distribution": f.dist, "error": f.error} for f in failed
                ],
            }
        )
        return
    from rich.table import Table

    out = _stdout()
    table = Table(title="plugins")
    for col in ("name", "distribution", "version", "hooks"):
        table.add_column(col)
    for p in infos:
        table.add_row(p.name, p.dist, p.version, ", ".join(p.hooks))
    out.print(table)
    if failed:
        out.print(f"[red]{len(failed)} plugin(s) failed to load and were skipped:[/red]")
        for f in failed:
            out.print(f"  {f.name} ({f.dist}): {f.error}")


@cli.command("ls")
@click.argument("kind", required=False)
@click.argument("pattern", required=False)
@click.option("-v", "--verbose", is_flag=True, help="Show parameters, defaults and citations.")
@FORMAT
def ls(kind: str | None, pattern: str | None, verbose: bool, fmt: str) -> None:
    """Registered items (to stdout): `eegbench ls encoders 'eeg*' -v`, `ls --format json`."""
    from eegbench.contract.errors import ConfigError
    from eegbench.contract.registry import did_you_mean

    if kind is not None:
        kind = KIND_ALIASES.get(kind, kind)
        if kind not in KINDS:
            raise ConfigError(f"unknown kind {kind!r}." + did_you_mean(kind, list(KINDS)))
    kinds = [kind] if kind else list(KINDS)
    if fmt == "json":
        _echo_json(
            [
                {
                    "kind": k,
                    "name": e.name,
                    "description": e.description,
                    "plugin": e.plugin,
                    "citation": e.citation,
                    "params": [
                        {"name": p.name, "type": p.type_name, "default": p.default, "help": p.help}
                        for p in e.param_list()
                    ],
                }
                for k in kinds
                for e in (plugins.registry(k).get(n) for n in plugins.registry(k).names(pattern))
            ]
        )
        return
    from rich.markup import escape

    out = _stdout()
    for k in kinds:
        reg = plugins.registry(k)
        names = reg.names(pattern)
        out.print(f"[bold]{k}[/bold] ({len(names)})")
        for name in names:
            e = reg.get(name)
            out.print(
                f"  [cyan]{escape(name)}[/cyan]  {escape(e.description)}  "
                f"[dim]({escape(e.plugin)})[/dim]",
                highlight=False,
            )
            if verbose:
                for p in e.param_list():
                    help_ = f"  {p.help}" if p.help else ""
                    out.print(
                        f"      {p.name}: {p.type_name} = {p.default!r}{help_}",
                        markup=False,
                        highlight=False,
                    )
                if e.citation:
                    out.print(f"      cite: {e.citation}", style="dim", markup=False)


def _add_core_commands() -> None:
    from eegbench.cli.results import (
        bench_command,
        compare,
        leaderboard_command,
        plot_command,
        report_command,
        score,
    )
    from eegbench.cli.tools import caption, embed, inspect

    cli.add_command(score)
    cli.add_command(caption)
    cli.add_command(inspect)
    cli.add_command(compare)
    cli.add_command(embed)
    cli.add_command(leaderboard_command)
    cli.add_command(bench_command)
    cli.add_command(report_command)
    cli.add_command(plot_command)


def _add_plugin_commands() -> None:
    for impl in plugins.plugin_manager().hook.register_commands.get_hookimpls():
        try:
            impl.function(cli=cli)
        except Exception as e:  # a broken plugin must not break the CLI
            click.echo(
                f"warning: plugin {impl.plugin_name!r} failed to add commands: {e}", err=True
            )


def main(argv: list[str] | None = None) -> None:
    from eegbench._compat import install_import_guard

    install_import_guard()  # the command is a process of its own: plugins get the guard too
    _add_plugin_commands()
    cli.main(args=argv, prog_name="eegbench", standalone_mode=True)


_add_core_commands()

if __name__ == "__main__":
    main(sys.argv[1:])
