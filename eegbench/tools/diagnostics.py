"""Diagnostics of a finished run: ``eegbench inspect`` writes tables (CSV + markdown) and PNGs.

- ``shapes``: every module of the EEG classifier (encoder, embedding and class heads) and of
  the projector with its output shape and parameter count, recorded by forward hooks.
- ``embeddings.png``: a batch of EEG embeddings as a heatmap.
- ``tokens``: the prompt of one trial position by position, and which positions were filled from
  the trial (EEG soft tokens, label tokens) rather than the instruction text.
- ``similarity``: cosine similarity between the batch's EEG embeddings and its targets.
- ``captions``: object labels, embedding norms, generated and reference captions.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from eegbench.contract.errors import DataError
from eegbench.contract.llm import CausalLM
from eegbench.tools.inference import (
    LoadedRun,
    batch_inference_and_visualize,
    require_captioner,
)
from eegbench.train.device import module_device
from eegbench.train.model import EEGClassifier, Projector
from eegbench.train.prompting import DEFAULT_PROMPT, INSTRUCTION, PromptConfig, build_batch

Row = dict[str, Any]


def _shape(out: Any) -> str:
    if isinstance(out, torch.Tensor):
        return "x".join(str(d) for d in out.shape)
    if isinstance(out, (tuple, list)):
        return "(" + ", ".join(_shape(o) for o in out) + ")"
    return type(out).__name__


@torch.no_grad()
def shape_report(model: EEGClassifier, projector: Projector, x: torch.Tensor) -> list[Row]:
    """Module, type, output shape and parameter count for one forward pass of ``x [B, C, T]``.

    Rows follow the module tree (``eeg_classifier.encoder...``, ``eeg_classifier.embed``,
    ``eeg_classifier.classifier``, ``projector...``); modules not called in the pass are left out.
    """
    shapes: dict[str, str] = {}
    handles = []
    tree: list[tuple[str, torch.nn.Module]] = []
    for prefix, root in (("eeg_classifier", model), ("projector", projector)):
        for name, module in root.named_modules():
            full = f"{prefix}.{name}" if name else prefix
            tree.append((full, module))

            def hook(_m: torch.nn.Module, _inp: Any, out: Any, key: str = full) -> None:
                shapes.setdefault(key, _shape(out))

            handles.append(module.register_forward_hook(hook))
    model.eval()
    projector.eval()
    try:
        emb, _ = model(x.to(module_device(model)))
        projector(emb.to(module_device(projector)))
    finally:
        for h in handles:
            h.remove()
    return [
        {
            "module": name,
            "depth": name.count("."),
            "type": type(module).__name__,
            "output_shape": shapes[name],
            "parameters": sum(p.numel() for p in module.parameters()),
        }
        for name, module in tree
        if name in shapes
    ]


def _label_positions(llm: CausalLM, ids: list[int], label: str | None, start: int) -> set[int]:
    """Positions at or after ``start`` that hold the label's tokens (plain or chat prompt)."""
    if not label:
        return set()
    for text in (f" {label}", label):
        own = llm.encode(text)
        for i in range(start, len(ids) - len(own) + 1):
            if own and ids[i : i + len(own)] == own:
                return set(range(i, i + len(own)))
    # BPE may merge the label's first token with what precedes it: fall back to the plain
    # prompt's rule (the tokens before the instruction that follows the label).
    tail = llm.encode(INSTRUCTION)
    for i in range(start, len(ids) - len(tail) + 1):
        if ids[i : i + len(tail)] == tail:
            return set(range(start, i))
    raise DataError(f"cannot tell which prompt tokens belong to the label {label!r}.")


def token_table(
    llm: CausalLM, soft: torch.Tensor, label: str | None, prompt: PromptConfig = DEFAULT_PROMPT
) -> list[Row]:
    """The prompt of one trial, position by position, as ``build_batch`` gives it to the LM.

    Works for the plain prompt and for chat templates (``prompt``, the run's ``prompt`` section).
    ``soft`` is ``[1, n_tokens, d_model]``. ``norm_before`` is the norm of the LM's token
    embedding of the id at that position (for EEG slots: the filler id the soft token overwrites);
    ``norm_after`` the norm of the embedding the LM receives. ``replaced`` marks positions filled
    from the trial: EEG slots and label tokens.
    """
    if soft.dim() != 3 or soft.shape[0] != 1:
        raise DataError(f"soft tokens must be [1, n, d_model], got {tuple(soft.shape)}.")
    n_soft = soft.shape[1]
    batch = build_batch(llm, soft, [label], padding_side="left", prompt=prompt)
    after = batch.inputs_embeds[0]
    ids = batch.input_ids[0].tolist()
    slots = batch.slots[0].tolist()
    if sum(slots) != n_soft:
        raise DataError(f"prompt has {sum(slots)} EEG slots, expected {n_soft}.")
    before = llm.input_embeddings(torch.tensor(ids, device=after.device))
    last_slot = max((i for i, s in enumerate(slots) if s), default=-1)
    label_at = _label_positions(llm, ids, label, last_slot + 1)
    rows = []
    k = 0
    for pos, tok in enumerate(ids):
        if slots[pos]:
            segment, text = "eeg", f"<image:{k}>"
            k += 1
        else:
            if pos in label_at:
                segment = "label"
            elif pos == 0 and tok in (llm.tokenizer.bos_token_id, llm.eos_token_id):
                segment = "bos"
            else:
                segment = "instruction"
            text = llm.tokenizer.decode([tok])
        rows.append(
            {
                "position": pos,
                "segment": segment,
                "token_id": tok,
                "token": text,
                "norm_before": float(before[pos].norm()),
                "norm_after": float(after[pos].float().norm()),
                "replaced": "yes" if segment in ("eeg", "label") else "no",
            }
        )
    return rows


def markdown_table(rows: Sequence[Row], floats: str = "{:.4f}") -> str:
    """A GitHub markdown table of ``rows`` (all rows share the first row's keys)."""
    if not rows:
        return ""
    cols = list(rows[0])

    def cell(v: Any) -> str:
        text = floats.format(v) if isinstance(v, float) else str(v)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(cell(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def write_table(rows: Sequence[Row], out: Path, name: str) -> tuple[Path, Path]:
    """``name.csv`` and ``name.md`` under ``out``."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    csv_path, md_path = out / f"{name}.csv", out / f"{name}.md"
    csv_path.write_text(buf.getvalue(), encoding="utf-8")
    md_path.write_text(markdown_table(rows), encoding="utf-8")
    return csv_path, md_path


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def plot_embeddings(emb: np.ndarray, labels: list[str], path: Path) -> Path:
    """Heatmap of EEG embeddings ``[B, D]``, rows labelled by trial."""
    fig = _figure(10, 1.2 + 0.3 * len(labels))
    ax = fig.subplots()
    lim = float(np.abs(emb).max()) or 1.0
    im = ax.imshow(emb, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel("embedding dimension")
    ax.set_title(f"EEG embeddings ({emb.shape[0]} test trials x {emb.shape[1]} dimensions)")
    fig.colorbar(im, ax=ax, label="value", shrink=0.9)
    fig.savefig(path)
    return path


def plot_similarity(sim: np.ndarray, rows: list[str], cols: list[str], path: Path) -> Path:
    """Cosine-similarity heatmap, EEG embeddings (rows) vs targets (columns)."""
    n = sim.shape[0]
    fig = _figure(2.5 + 0.45 * n, 1.8 + 0.4 * n)
    ax = fig.subplots()
    lim = float(np.abs(sim).max()) or 1.0
    im = ax.imshow(sim, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    ax.set_yticks(range(n), rows, fontsize=8)
    ax.set_xticks(range(n), cols, fontsize=8, rotation=60, ha="right")
    ax.set_ylabel("EEG embedding of trial")
    ax.set_xlabel("target embedding of trial")
    if n <= 20:
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f"{sim[i, j]:.2f}", ha="center", va="center", fontsize=6)
    ax.set_title("cosine similarity (diagonal: each trial's own target)")
    fig.colorbar(im, ax=ax, label="cosine", shrink=0.9)
    fig.savefig(path)
    return path


def plot_tokens(rows: list[Row], path: Path) -> Path:
    """Norms of the token embedding before / the embedding fed after, per prompt position."""
    n = len(rows)
    fig = _figure(max(6.0, 0.45 * n + 2), 3.8)
    ax = fig.subplots()
    x = np.arange(n)
    ax.bar(x - 0.2, [r["norm_before"] for r in rows], 0.4, label="token embedding (before)")
    ax.bar(x + 0.2, [r["norm_after"] for r in rows], 0.4, label="fed to the LM (after)")
    for i, r in enumerate(rows):
        if r["replaced"] == "yes":
            color = "tab:red" if r["segment"] == "eeg" else "tab:green"
            ax.axvspan(i - 0.5, i + 0.5, color=color, alpha=0.15, lw=0)
    ax.set_xticks(x, [repr(r["token"])[1:-1] for r in rows], rotation=60, ha="right", fontsize=8)
    norms = [v for r in rows for v in (r["norm_before"], r["norm_after"]) if v > 0]
    if norms and max(norms) > 20 * min(norms):
        ax.set_yscale("log")
    ax.set_ylabel("L2 norm" + (" (log scale)" if ax.get_yscale() == "log" else ""))
    ax.set_title("prompt positions (red: EEG soft tokens, green: label tokens)")
    ax.legend(fontsize=8)
    fig.savefig(path)
    return path


@dataclass
class Inspection:
    """What ``inspect_run`` computed and where it wrote it."""

    shapes: list[Row]
    tokens: list[Row]
    captions: list[Row]
    similarity: np.ndarray
    files: list[Path]


def inspect_run(pipe: LoadedRun, out: str | Path, batch: int = 16) -> Inspection:
    """Write all diagnostics for the first ``batch`` test trials of a loaded run under ``out``."""
    require_captioner(pipe)
    if batch < 1:
        raise DataError(f"--batch must be at least 1, got {batch}.")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    trials = _test_trials(pipe, batch)
    captions, projected, sim = _generate(pipe, trials)
    sim_np = sim.numpy()
    files: list[Path] = []

    shapes = shape_report(pipe.model, pipe.projector, trials.x)
    files += write_table(shapes, out, "shapes")

    files.append(plot_embeddings(trials.emb, trials.row_labels, out / "embeddings.png"))

    tokens = _first_prompt(pipe, trials)
    files += write_table(tokens, out, "tokens")
    files.append(plot_tokens(tokens, out / "tokens.png"))

    files += _write_similarity(pipe, trials, sim_np, out)

    caption_rows = _caption_rows(pipe, trials, captions, projected, sim_np)
    files += write_table(caption_rows, out, "captions")
    files.append(_write_report(pipe, out, shapes, tokens, caption_rows, sim_np))
    return Inspection(shapes, tokens, caption_rows, sim_np, files)


@dataclass
class _Trials:
    """The inspected test trials: their indices, EEG, embeddings and object labels."""

    idx: np.ndarray
    x: torch.Tensor
    emb: np.ndarray
    predicted: list[str]
    expected: list[str]

    @property
    def row_labels(self) -> list[str]:
        """``"i: expected"``, with the predicted label where the classifier got it wrong."""
        return [
            f"{i}: {e}" + ("" if e == p else f" (pred. {p})")
            for i, (e, p) in enumerate(zip(self.expected, self.predicted))
        ]


def _test_trials(pipe: LoadedRun, batch: int) -> _Trials:
    """The first ``batch`` test trials with their EEG embeddings and labels, as classified."""
    data = pipe.data
    idx = data.splits["test"][:batch]
    x = torch.as_tensor(data.X[idx])
    names = data.class_names
    emb, logits = pipe.model.predict(x, precision=pipe.encoder_precision)
    predicted = [names[k] for k in logits.argmax(1)]
    expected = [names[k] for k in data.y[idx]]
    return _Trials(idx, x, emb, predicted, expected)


def _generate(
    pipe: LoadedRun, trials: _Trials
) -> tuple[list[str], torch.Tensor, torch.Tensor | None]:
    """The trials' captions, projected embeddings and EEG-vs-target cosine similarities."""
    ev = pipe.config.eval
    return batch_inference_and_visualize(
        trials.x,
        trials.predicted,
        pipe.targets[pipe.data.image[trials.idx]],
        pipe.model,
        pipe.projector,
        pipe.llm,
        None,
        max_new_tokens=ev.max_new_tokens,
        repetition_penalty=ev.repetition_penalty,
        generation=ev.generation,
        prompt=pipe.prompt,
        precision=pipe.precision,
        encoder_precision=pipe.encoder_precision,
    )


def _first_prompt(pipe: LoadedRun, trials: _Trials) -> list[Row]:
    """The first trial's prompt position by position, as generation sees it."""
    with torch.no_grad(), pipe.precision.autocast():
        soft = pipe.projector(torch.as_tensor(trials.emb[:1]).to(module_device(pipe.projector)))
        return token_table(pipe.llm, soft, trials.predicted[0], pipe.prompt)


def _write_similarity(pipe: LoadedRun, trials: _Trials, sim: np.ndarray, out: Path) -> list[Path]:
    """The similarity table and heatmap: EEG embeddings (rows) vs the trials' targets."""
    data, idx, row_labels = pipe.data, trials.idx, trials.row_labels
    col_labels = [f"{j}: {data.image_names[data.image[t]]}" for j, t in enumerate(idx)]
    sim_rows = [
        {
            "eeg_trial": row_labels[i],
            **{col_labels[j]: float(sim[i, j]) for j in range(len(idx))},
        }
        for i in range(len(idx))
    ]
    files = write_table(sim_rows, out, "similarity")
    return [*files, plot_similarity(sim, row_labels, col_labels, out / "similarity.png")]


def _caption_rows(
    pipe: LoadedRun,
    trials: _Trials,
    captions: list[str],
    projected: torch.Tensor,
    sim: np.ndarray,
) -> list[Row]:
    """One row per trial: labels, embedding norms, target cosine, generated and reference."""
    data, refs = pipe.data, pipe.data.captions
    return [
        {
            "trial": i,
            "image": data.image_names[data.image[t]],
            "expected": trials.expected[i],
            "predicted": trials.predicted[i],
            "eeg_norm": float(np.linalg.norm(trials.emb[i])),
            "projected_norm": float(projected[i].norm()),
            "target_cosine": float(sim[i, i]),
            "generated": captions[i],
            "reference": refs[data.image[t]] if refs is not None else "",
        }
        for i, t in enumerate(trials.idx)
    ]


def _write_report(
    pipe: LoadedRun,
    out: Path,
    shapes: list[Row],
    tokens: list[Row],
    captions: list[Row],
    sim: np.ndarray,
) -> Path:
    off = sim[~np.eye(sim.shape[0], dtype=bool)]
    lines = [
        f"# Diagnostics of `{pipe.run_dir.name}`\n",
        f"{len(captions)} test trials of {pipe.data.name} "
        f"(encoder {pipe.config.encoder.name}, LLM {pipe.config.llm.name}).\n",
        "## Forward-pass shapes\n",
        markdown_table(shapes),
        "## EEG embeddings\n",
        "![EEG embeddings](embeddings.png)\n",
        "## Prompt positions (first trial)\n",
        markdown_table(tokens),
        "![prompt positions](tokens.png)\n",
        "## EEG vs target similarity\n",
        f"Diagonal (own target) mean {np.diag(sim).mean():.4f}; "
        f"off-diagonal mean {off.mean() if off.size else float('nan'):.4f}.\n",
        "![similarity](similarity.png)\n",
        "## Captions\n",
        markdown_table(captions),
    ]
    path = out / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
