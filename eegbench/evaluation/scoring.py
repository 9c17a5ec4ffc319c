"""Score a prediction CSV with a named protocol; the ``eegbench score`` command."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from eegbench import plugins
from eegbench.api.errors import ConfigError, UnknownNameError
from eegbench.evaluation.predictions import read_predictions
from eegbench.io import atomic_write
from eegbench.progress import log

PROTOCOL_PREFIX = "protocol:"


def protocol_names() -> list[str]:
    """Registered protocol names without the ``protocol:`` prefix."""
    return [
        n[len(PROTOCOL_PREFIX) :] for n in plugins.registry("metrics").names(f"{PROTOCOL_PREFIX}*")
    ]


def score_file(path: str | os.PathLike[str], protocol: str = "thought2text") -> dict[str, float]:
    """Metric -> value for a Thought2Text-layout prediction CSV under ``protocol``."""
    name = protocol if protocol.startswith(PROTOCOL_PREFIX) else PROTOCOL_PREFIX + protocol
    try:
        entry = plugins.get("metrics", name)
    except UnknownNameError:
        raise ConfigError(
            f"unknown protocol {protocol!r}; valid: {', '.join(protocol_names()) or '(none)'}."
        ) from None
    preds = read_predictions(path)
    metric = entry.build()
    return metric.compute(
        preds.generated,
        preds.reference,
        expected_objects=preds.expected_object,
        predicted_objects=preds.predicted_object,
    )


def _write_json(obj: dict[str, float], path: Path) -> None:
    atomic_write(path, json.dumps(obj, indent=2) + "\n")


@click.command()
@click.argument("predictions", type=click.Path(dir_okay=False))
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
    type=click.Path(dir_okay=False),
    default=None,
    help="Where to save the scores JSON [default: <file stem>.scores.json beside the input].",
)
def score(predictions: str, protocol: str, fmt: str, out: str | None) -> None:
    """Score a prediction CSV (Thought2Text's column layout) with a metric protocol."""
    scores = score_file(predictions, protocol)
    src = Path(predictions)
    dest = Path(out) if out else src.with_name(f"{src.stem}.scores.json")
    _write_json(scores, dest)
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
