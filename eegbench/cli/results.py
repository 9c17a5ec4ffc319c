"""Commands on results: score, compare, leaderboard, bench."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from eegbench.cli import PathOf
from eegbench.report import FORMATS

if TYPE_CHECKING:
    from eegbench.bench import BenchResult, Suite
    from eegbench.bench.ray_backend import RayOptions
    from eegbench.bench.slurm_backend import SlurmOptions


def _split_names(text: str | None) -> list[str] | None:
    """``"a, b"`` -> ``["a", "b"]``; None stays None (the option was not given)."""
    if text is None:
        return None
    return [n.strip() for n in text.split(",") if n.strip()]


@click.command()
@click.argument("predictions", type=PathOf("file"))
@click.option(
    "--protocol",
    default="thought2text",
    show_default=True,
    help="Scoring protocol: thought2text (Thought2Text's notebook) or coco (pycocoevalcap, Java).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="table (human) or json (one object metric -> value on stdout).",
)
@click.option(
    "--out",
    "out",
    type=PathOf("file"),
    default=None,
    help="Where to save the scores JSON [default: <file stem>.scores.json beside the input].",
)
def score(predictions: str, protocol: str, fmt: str, out: str | None) -> None:
    """Score a prediction CSV (Thought2Text's column layout) with a metric protocol."""
    from eegbench.evaluation.scoring import check_destination, score_file, write_scores
    from eegbench.progress import log

    src = Path(predictions)
    dest = Path(out) if out else src.with_name(f"{src.stem}.scores.json")
    check_destination(dest)
    scores = score_file(predictions, protocol)
    write_scores(scores, dest)
    if fmt == "json":
        click.echo(json.dumps(scores))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{src.name} ({protocol})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in scores.items():
        table.add_row(key, f"{value:.4f}")
    Console().print(table)
    log(f"[dim]saved {dest}[/dim]")


@click.command()
@click.argument("run_a", type=click.Path())
@click.argument("run_b", type=click.Path(), required=False)
@click.option(
    "--control",
    default=None,
    help="Compare RUN_A's full pipeline (B) with this control of it (A), from "
    "predictions_<control>.csv; no RUN_B.",
)
@click.option(
    "--metrics",
    "metric_names",
    multiple=True,
    help="Metric names (repeat or comma-separate); 'object_match' is expected vs predicted "
    "object. [default: run A's caption metrics + object_match]",
)
@click.option("--n-perm", type=int, default=10000, show_default=True, help="Permutations.")
@click.option("--seed", type=int, default=0, show_default=True, help="Permutation seed.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
)
def compare(
    run_a: str,
    run_b: str | None,
    control: str | None,
    metric_names: tuple[str, ...],
    n_perm: int,
    seed: int,
    fmt: str,
) -> None:
    """Paired cluster permutation tests of two runs, or of a run and one of its controls.

    RUN_A and RUN_B are run directories or prediction CSVs; `eegbench compare RUN --control
    only_obj` compares a run's full pipeline with its ONLY_OBJ control. Trials that share an
    image (or the unit the dataset declared) are permuted and resampled together.
    """
    from eegbench.evaluation.compare import compare_runs

    names = [n.strip() for item in metric_names for n in item.split(",") if n.strip()]
    result = compare_runs(run_a, run_b, names or None, n_perm, seed, control=control)
    for line in result["warnings"]:
        click.echo(f"warning: {line}", err=True)
    if fmt == "json":
        click.echo(json.dumps(result))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"A = {result['run_a']}, B = {result['run_b']}: {result['n_trials']} paired "
        f"trials in {result['n_clusters']} clusters ({result['cluster_unit']}), "
        f"{n_perm} permutations"
    )
    for col in ("metric", "A", "B", "B - A", "95% CI", "p"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for r in result["rows"]:
        arrow = "↑" if r["higher_is_better"] else "↓"
        table.add_row(
            f"{r['output']} {arrow}",
            f"{r['a']:.4f}",
            f"{r['b']:.4f}",
            f"{r['diff']:+.4f}",
            f"[{r['ci'][0]:+.4f}, {r['ci'][1]:+.4f}]",
            f"{r['p']:.4f}",
        )
    Console().print(table)
    for name, why in result["skipped"].items():
        click.echo(f"skipped {name}: {why}", err=True)


@click.command("leaderboard")
@click.argument("runs_dirs", nargs=-1, required=True, type=PathOf("folder", path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="md", show_default=True)
@click.option("--metrics", help="Comma-separated metric outputs (default: every one reported).")
@click.option(
    "--group-by",
    help="Config keys that make a row, e.g. encoder,llm,dataset or encoder.width "
    "(default: the whole config except the seed).",
)
@click.option(
    "--controls", default="all", show_default=True, help="Control rows: all, none, or names."
)
@click.option(
    "--delta",
    help="Controls to subtract: adds columns 'metric Δ control' (* p<0.05, ** p<0.01); "
    "default: shuffled_eeg (the EEG-isolating control) when the runs have it; none for no "
    "column.",
)
@click.option(
    "--oracles/--no-oracles",
    default=True,
    show_default=True,
    help="Oracle rows (floor and ceiling) of datasets with ground truth.",
)
@click.option(
    "--headroom",
    is_flag=True,
    help="Add columns 'metric headroom': (row - floor) / (ceiling - floor).",
)
@click.option(
    "--pairs/--no-pairs",
    default=None,
    help="Encoder against encoder: paired differences between configurations over the worlds "
    "and test images they share, with adjusted p and rank groups [default: when two "
    "configurations share a world and their prediction files are present].",
)
@click.option(
    "--pair-metrics",
    help="Comma-separated metrics to pair (default: the caption metrics among the columns).",
)
@click.option(
    "--correction",
    type=click.Choice(["holm", "bh"]),
    default="holm",
    show_default=True,
    help="Multiplicity adjustment of the pairs' and the control differences' p-values: Holm "
    "(family-wise) or Benjamini-Hochberg (false discovery rate).",
)
@click.option(
    "--permutations",
    "n_perm",
    type=click.IntRange(min=1),
    default=10000,
    show_default=True,
    help="Cluster permutations per encoder pair.",
)
@click.option("--sort", "sort_by", help="Order configurations by this metric, best first.")
@click.option("--digits", default=3, show_default=True, help="Decimals shown.")
@click.option(
    "--out",
    type=PathOf("file", path_type=Path),
    help="Write the table here, and the raw numbers to leaderboard.csv beside it.",
)
@click.option("--plot", type=PathOf("file", path_type=Path), help="Bar chart (PNG) here.")
def leaderboard_command(
    runs_dirs: tuple[Path, ...],
    fmt: str,
    metrics: str | None,
    group_by: str | None,
    controls: str,
    delta: str | None,
    oracles: bool,
    headroom: bool,
    pairs: bool | None,
    pair_metrics: str | None,
    correction: str,
    n_perm: int,
    sort_by: str | None,
    digits: int,
    out: Path | None,
    plot: Path | None,
) -> None:
    """Rank the runs under RUNS_DIRS: mean and 95% CI over seeds per configuration."""
    from eegbench.report.leaderboard import build, collect, default_delta, write_outputs

    runs, skipped = collect(runs_dirs)
    if delta is None:
        deltas = default_delta(runs)
    else:
        deltas = [] if delta.strip() == "none" else _split_names(delta) or []
    for s in skipped:
        click.echo(f"skipped {s.path}: {s.reason}", err=True)
    board = build(
        runs,
        skipped,
        metrics=_split_names(metrics),
        group_by=_split_names(group_by),
        controls=controls if controls in ("all", "none") else _split_names(controls) or [],
        delta=deltas,
        sort_by=sort_by,
        digits=digits,
        oracles=oracles,
        headroom=headroom,
        pairs=pairs,
        pair_metrics=_split_names(pair_metrics),
        correction=correction,
        n_perm=n_perm,
    )
    for s in board.skipped[len(skipped) :]:
        click.echo(f"skipped {s.path}: {s.reason}", err=True)
    for n in board.notes:
        click.echo(f"note: {n}", err=True)
    written = write_outputs(board, fmt, out, plot)
    if out is None:
        click.echo(board.render(fmt), nl=False)
    for kind, path in written.items():
        click.echo(f"{kind}: {path}", err=True)


@click.command("bench", context_settings={"ignore_unknown_options": True})
@click.argument("suite", required=False)
@click.argument("overrides", nargs=-1)
@click.option(
    "--out",
    type=PathOf("folder", path_type=Path),
    help="Output directory (default: runs/bench/SUITE).",
)
@click.option("--dry-run", is_flag=True, help="List the configurations and which are done.")
@click.option(
    "--backend",
    type=click.Choice(["local", "ray", "slurm"]),
    default="local",
    show_default=True,
    help="local: the runs in this process, one after another (or --processes N at once); ray: "
    "each run as a Ray task (the 'ray' extra); slurm: each run as a task of one Slurm job array "
    "(sbatch; the bench waits for it).",
)
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="local: run N configurations at once, each in its own process with the free cores "
    "divided among them (torch threads per run in results.json, unless threads=N is given).",
)
@click.option(
    "--address",
    help="Ray: join the cluster at this address (e.g. ray://head:10001 or auto) instead of "
    "starting a local Ray.",
)
@click.option(
    "--num-cpus",
    type=click.IntRange(min=1),
    help="Ray: CPUs of the local Ray [default: all of this machine's].",
)
@click.option(
    "--cpus-per-run",
    type=click.IntRange(min=1),
    help="Ray, Slurm: CPUs (and torch threads) of each run [default: the config's threads, "
    "else 1].",
)
@click.option(
    "--gpus-per-run",
    type=click.FloatRange(min=0),
    help="Ray, Slurm: GPUs of each run (Ray: a fraction shares one) [default: 1 with "
    "device=cuda, else 0].",
)
@click.option("--partition", help="Slurm: the partition of the array.")
@click.option("--time", "time_limit", help="Slurm: time limit of each run (e.g. 4:00:00).")
@click.option(
    "--array-parallelism",
    type=click.IntRange(min=1),
    help="Slurm: at most N runs of the array at once (--array=0-K%N).",
)
@click.option(
    "--sbatch",
    "sbatch_lines",
    multiple=True,
    help="Slurm: one more sbatch option for the script (repeatable), e.g. --sbatch=--mem=16G.",
)
@click.option(
    "--requeue",
    is_flag=True,
    help="Slurm: a pre-empted or timed-out run stops at the next safe point and requeues "
    "itself, then resumes from its checkpoint.",
)
def bench_command(
    suite: str | None,
    overrides: tuple[str, ...],
    out: Path | None,
    dry_run: bool,
    backend: str,
    processes: int,
    address: str | None,
    num_cpus: int | None,
    cpus_per_run: int | None,
    gpus_per_run: float | None,
    partition: str | None,
    time_limit: str | None,
    array_parallelism: int | None,
    sbatch_lines: tuple[str, ...],
    requeue: bool,
) -> None:
    """Run a benchmark SUITE (a shipped name or a YAML file), then print its leaderboard.

    OVERRIDES apply to every configuration (e.g. cache_dir=/tmp/cache). Without SUITE: list the
    shipped suites. `--processes N` runs N configurations at once on this machine, the free
    cores divided among them. `--backend ray` runs each configuration as a Ray task: on a local
    Ray, or on the cluster at `--address` (its nodes need this eegbench and an output folder
    they share). `--backend slurm` submits them as one Slurm job array and waits for it
    (`--dry-run` prints the script). SIGTERM or Ctrl-C stops the bench with one line naming
    the command that resumes it.
    """
    from eegbench.bench import load_suite, plan

    if suite is None:
        _list_suites()
        return
    where = _Backend(
        backend,
        processes,
        address,
        num_cpus,
        cpus_per_run,
        gpus_per_run,
        partition,
        time_limit,
        array_parallelism,
        sbatch_lines,
        requeue,
    )
    ray, slurm = where.options()
    s = load_suite(suite)
    out = out or Path("runs") / "bench" / s.name
    if dry_run:
        _dry_run(plan(s, out, list(overrides)), out, ray, slurm)
        return
    resume = ["eegbench", "bench", suite, *overrides, "--out", str(out), *where.argv()]
    result = _run_suite(s, out, list(overrides), where, ray, slurm, resume)
    _report_bench(s, out, result)


def _list_suites() -> None:
    """Each shipped suite with its description."""
    from eegbench.bench import list_suites, load_suite

    for name in list_suites():
        s = load_suite(name)
        click.echo(f"{name}: {s.description}")


@dataclass(frozen=True)
class _Backend:
    """Where a bench's runs go, as the command line gave it: ``--backend`` and its options."""

    name: str
    processes: int
    address: str | None
    num_cpus: int | None
    cpus_per_run: int | None
    gpus_per_run: float | None
    partition: str | None
    time_limit: str | None
    array_parallelism: int | None
    sbatch_lines: tuple[str, ...]
    requeue: bool

    @property
    def ray_flags(self) -> dict[str, Any]:
        """Ray's options by flag (None: not given)."""
        return {
            "--address": self.address,
            "--num-cpus": self.num_cpus,
            "--cpus-per-run": self.cpus_per_run,
            "--gpus-per-run": self.gpus_per_run,
        }

    @property
    def slurm_flags(self) -> dict[str, Any]:
        """Slurm's options by flag (None: not given)."""
        return {
            "--partition": self.partition,
            "--time": self.time_limit,
            "--array-parallelism": self.array_parallelism,
            "--sbatch": self.sbatch_lines or None,
            "--requeue": self.requeue or None,
        }

    def options(self) -> tuple[RayOptions | None, SlurmOptions | None]:
        """The ``RayOptions`` and ``SlurmOptions`` of the chosen backend (None for the others),
        after checking that each option belongs to it."""
        _check_backend_flags(self.name, self.processes, self.ray_flags, self.slurm_flags)
        ray = slurm = None
        if self.name == "ray":
            from eegbench.bench.ray_backend import RayOptions

            ray = RayOptions(self.address, self.num_cpus, self.cpus_per_run, self.gpus_per_run)
        if self.name == "slurm":
            from eegbench.bench.slurm_backend import SlurmOptions

            gpus = None if self.gpus_per_run is None else int(self.gpus_per_run)
            slurm = SlurmOptions(
                self.partition,
                self.time_limit,
                self.cpus_per_run,
                gpus,
                self.array_parallelism,
                self.sbatch_lines,
                self.requeue,
            )
        return ray, slurm

    def argv(self) -> list[str]:
        """The backend's options as they were given, for the command that resumes the bench."""
        argv = [] if self.name == "local" else ["--backend", self.name]
        if self.processes > 1:
            argv += ["--processes", str(self.processes)]
        argv += [f"{flag}={value}" for flag, value in self.ray_flags.items() if value is not None]
        return argv + _slurm_argv(self.slurm_flags)


def _run_suite(
    suite: Suite,
    out: Path,
    overrides: list[str],
    where: _Backend,
    ray: RayOptions | None,
    slurm: SlurmOptions | None,
    resume: list[str],
) -> BenchResult:
    """The suite's result; SIGTERM or Ctrl-C stops it with one line naming ``resume``."""
    from eegbench.bench import run_suite
    from eegbench.train.preemption import Interrupted, stop_politely

    try:
        with stop_politely():
            return run_suite(suite, out, overrides, where.name, ray, where.processes, slurm)
    except Interrupted as e:  # finished runs are skipped and interrupted ones resumed by a rerun
        e.finished = None
        e.resume = resume
        raise


def _report_bench(suite: Suite, out: Path, result: BenchResult) -> None:
    """The suite's leaderboard (printed and written to ``out``) and what ran; an error when a
    configuration failed."""
    from eegbench.bench import leaderboard_options
    from eegbench.contract.errors import EegbenchError
    from eegbench.report.leaderboard import leaderboard, write_outputs

    board = leaderboard([out], **leaderboard_options(suite))
    written = write_outputs(board, "md", out / "leaderboard.md", out / "leaderboard.png")
    click.echo(board.to_markdown(), nl=False)
    for kind, path in written.items():
        click.echo(f"{kind}: {path}", err=True)
    click.echo(
        f"ran {len(result.ran)} of {len(result.jobs)} configurations in {result.seconds:.0f} s "
        f"({len(result.jobs) - len(result.ran) - len(result.failed)} were done already)",
        err=True,
    )
    if result.failed:
        first = result.failed[0]
        raise EegbenchError(
            f"{len(result.failed)} configuration(s) failed; first: {first[0].name}: {first[1]}"
        )


def _check_backend_flags(
    backend: str, processes: int, ray_flags: dict[str, Any], slurm_flags: dict[str, Any]
) -> None:
    """Each backend's options only with that backend."""
    from eegbench.contract.errors import ConfigError

    shared = ("--cpus-per-run", "--gpus-per-run")
    for flag, value in ray_flags.items():
        if value is not None and backend != "ray" and not (backend == "slurm" and flag in shared):
            raise ConfigError(f"{flag} is an option of --backend ray; add --backend ray.")
    for flag, value in slurm_flags.items():
        if value is not None and backend != "slurm":
            raise ConfigError(f"{flag} is an option of --backend slurm; add --backend slurm.")
    gpus = ray_flags["--gpus-per-run"]
    if backend == "slurm" and gpus is not None and gpus != int(gpus):
        raise ConfigError(f"--gpus-per-run {gpus:g}: Slurm hands out whole GPUs; give 0, 1, ...")
    if backend != "local" and processes > 1:
        raise ConfigError(
            "--processes is an option of the local backend; with --backend ray use --num-cpus "
            "and --cpus-per-run, with --backend slurm --array-parallelism."
        )


def _slurm_argv(flags: dict[str, Any]) -> list[str]:
    """The Slurm options as they were given, for the command that resumes the bench."""
    argv: list[str] = []
    for flag, value in flags.items():
        if value is True:
            argv.append(flag)
        elif isinstance(value, tuple):
            argv += [f"{flag}={v}" for v in value]
        elif value is not None:
            argv.append(f"{flag}={value}")
    return argv


def _dry_run(jobs: list[Any], out: Path, ray: Any, slurm: Any) -> None:
    """The configurations and which are done; what Ray would give each run; Slurm's script."""
    from eegbench.bench import pending

    if ray is not None:
        from eegbench.bench.ray_backend import check, resources

        check(jobs, ray)
    for job in jobs:
        status = f"done ({job.done})" if job.done else "to run"
        if ray is not None and job.done is None:
            cpus, gpus = resources(job, ray)
            status += f" (Ray task: {cpus} CPU, {gpus:g} GPU)"
        click.echo(f"{job.key}  {job.name}  {status}")
    if slurm is None:
        return
    from eegbench.bench.slurm_backend import check as check_slurm
    from eegbench.bench.slurm_backend import prepare

    check_slurm(jobs, slurm)
    todo = pending(jobs, out)
    if not todo:
        click.echo("nothing to submit: every configuration is done")
        return
    batch = prepare(todo, out, slurm)
    names = ", ".join(f"{i}: {t.job.name}" for i, t in enumerate(todo))
    click.echo(f"# sbatch script ({batch.folder / 'job.sh'}); array tasks {names}")
    click.echo(batch.script, nl=False)


@click.command("report")
@click.argument("runs", nargs=-1, required=True, type=PathOf("folder", path_type=Path))
@click.option(
    "--out",
    type=PathOf("file", path_type=Path),
    help="HTML file to write (default: RUN/report.html for one run, else report.html).",
)
def report_command(runs: tuple[Path, ...], out: Path | None) -> None:
    """One self-contained HTML page for RUNS (run directories or folders of them)."""
    from eegbench.report.html import write_report

    if out is None:
        from eegbench.results.rundir import RunDir

        single = len(runs) == 1 and RunDir(runs[0]).results.is_file()
        out = runs[0] / "report.html" if single else Path("report.html")
    click.echo(str(write_report(runs, out)))


@click.command("plot")
@click.argument("run", type=PathOf("folder", path_type=Path))
@click.option(
    "--out",
    type=PathOf("folder", path_type=Path),
    help="Folder for the figures [default: RUN/figures].",
)
@click.option(
    "--format",
    "formats",
    type=click.Choice(["png", "svg"]),
    multiple=True,
    help="Image format(s), repeatable [default: png and svg].",
)
def plot_command(run: Path, out: Path | None, formats: tuple[str, ...]) -> None:
    """Figures of one finished RUN: confusion matrix, per-class accuracy, attribute hit rates
    beside the controls and oracles, and a forest plot of every control difference.

    Prints each file written (stdout); a figure the run has no data for is named on stderr
    with the reason.
    """
    from eegbench.report.figures import FORMATS, write

    written, missing = write(run, out, formats or FORMATS)
    for path in written:
        click.echo(str(path))
    for name, why in missing.items():
        click.echo(f"no {name} figure: {why}", err=True)
