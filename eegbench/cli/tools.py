"""Commands on finished runs and caches: caption, inspect, embed."""

from __future__ import annotations

from pathlib import Path

import click

from eegbench.cli import PathOf

DEVICE = click.option(
    "--device",
    default=None,
    help="Load the run here instead of on its own device (cpu, cuda, cuda:N, mps, auto); "
    "e.g. --device cpu for a GPU run.",
)


@click.command()
@click.argument("run_dir", type=PathOf("folder"))
@click.option("--trial", "-n", type=int, default=0, show_default=True, help="Test trial (row).")
@click.option("--label", default=None, help="Object label in the prompt [default: predicted].")
@DEVICE
def caption(run_dir: str, trial: int, label: str | None, device: str | None) -> None:
    """Caption one test trial of a finished run with its saved weights, prompt and precision."""
    from eegbench.contract.errors import ConfigError
    from eegbench.tools.inference import load_run, require_captioner, trial_index
    from eegbench.train.generation import generate_captions

    if label is not None and not label.strip():
        raise ConfigError("--label is empty; give an object name or leave --label out.")
    pipe = load_run(run_dir, device=device)
    require_captioner(pipe)
    i = trial_index(pipe, trial)
    data = pipe.data
    # a copy: X may be a read-only memory map
    emb, logits = pipe.model.predict(data.X[[i]], precision=pipe.encoder_precision)
    predicted = data.class_names[int(logits[0].argmax())]
    ev = pipe.config.eval
    text = generate_captions(
        pipe.llm,
        pipe.projector,
        emb,
        [label if label is not None else predicted],
        max_new_tokens=ev.max_new_tokens,
        repetition_penalty=ev.repetition_penalty,
        generation=ev.generation,
        precision=pipe.precision,
        prompt=pipe.prompt,
    )[0]
    reference = data.captions[data.image[i]] if data.captions is not None else ""
    click.echo(f"trial      {trial} (image {data.image_names[data.image[i]]})")
    click.echo(f"expected   {data.class_names[data.y[i]]}")
    click.echo(f"predicted  {predicted}")
    if label is not None:
        click.echo(f"prompt     {label}")
    click.echo(f"reference  {reference}")
    click.echo(f"generated  {text}")


@click.command()
@click.argument("run_dir", type=PathOf("folder"))
@click.option(
    "--out",
    type=PathOf("folder"),
    default=None,
    help="Output folder [default: RUN_DIR/diagnostics].",
)
@click.option("--batch", type=int, default=16, show_default=True, help="Test trials to inspect.")
@DEVICE
def inspect(run_dir: str, out: str | None, batch: int, device: str | None) -> None:
    """Shapes, embeddings, prompt tokens, similarity and captions of a finished run."""
    import numpy as np

    from eegbench.contract.errors import DataError
    from eegbench.tools.diagnostics import inspect_run
    from eegbench.tools.inference import load_run

    if batch < 1:
        raise DataError(f"--batch must be at least 1, got {batch}.")
    pipe = load_run(run_dir, device=device)
    dest = Path(out) if out else pipe.run_dir / "diagnostics"
    result = inspect_run(pipe, dest, batch)
    sim = result.similarity
    replaced = [r["position"] for r in result.tokens if r["replaced"] == "yes"]
    click.echo(
        f"modules: {len(result.shapes)}; "
        + ", ".join(f"{r['module']} {r['output_shape']}" for r in result.shapes if r["depth"] <= 1)
    )
    click.echo(f"prompt positions replaced by EEG/label: {replaced}")
    click.echo(
        f"similarity: diagonal mean {np.diag(sim).mean():.4f}, "
        f"matrix mean {sim.mean():.4f} over {sim.shape[0]} trials"
    )
    click.echo(f"wrote {len(result.files)} files to {dest}")


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("overrides", nargs=-1)
@click.option("--config", "config_path", type=click.Path(), help="Start from this config file.")
def embed(overrides: tuple[str, ...], config_path: str | None) -> None:
    """Compute and cache target embeddings (e.g. `eegbench embed dataset=cvpr40 target=clip`)."""
    from eegbench.config import build_config
    from eegbench.progress import silence_library_progress
    from eegbench.tools.embed import embed_targets

    silence_library_progress()
    cfg = build_config(list(overrides), base=config_path)
    result = embed_targets(cfg)
    how = "reused the cache" if result.reused else f"computed in {result.seconds:.1f} s"
    click.echo(
        f"{cfg.target.name} embeddings of {cfg.dataset.name}: "
        f"{result.shape[0]} x {result.shape[1]}, {how}"
    )
    click.echo(f"cache: {result.path}")
