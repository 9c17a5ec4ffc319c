"""eegbench's stage-1 training step vs a plain PyTorch step of EEG-ChannelNet (issue 14, item 2).

The baseline is EEG-ChannelNet written as its authors' code writes it (Palazzo et al., TPAMI
2020): ``nn.Conv2d`` layers with implicit padding (BatchNorm -> ReLU -> Conv2d -> Dropout2d),
Linear heads, and a training step of forward, cross-entropy, ``zero_grad``, backward, Adam and
``loss.item()``. The candidate is the step ``eegbench run`` takes (``stage1_step`` of
``eegbench/train/stage1.py``: the ``dilated`` encoder at width 1 with its heads, ``w_mse * MSE +
w_ce * CE`` against target embeddings, gradient clipping, AdamW, the warm-up schedule, losses
kept on the device). Both models share their weights; the benchmark checks that they compute the
same outputs before timing them. Full size: 128 x 440 (CVPR40), batch 16; ``--quick``: 16 x 64,
width 0.25, batch 8.

Both run in fp32 with the same torch threads. On a CPU with native bf16 (AVX512-BF16 or AMX) a
second figure times eegbench's step under bf16 autocast (``precision=bf16``) against the same
fp32 baseline; elsewhere bf16 is emulated and far slower (docs/accelerators.md), so it is left
out.

Issue 31: a step of one full batch is not what a run does. ``epoch_figures`` time the run's own
code path at the same shape: one whole epoch of ``train_stage1`` (61 training trials in batches
of 16, 16, 16 and a partial 13, then the validation forward on 16 trials: CVPR40's per-subject
split sizes of the issue's file) and evaluation's forward (``EEGClassifier.predict`` on 19 test
trials), each in bf16 against fp32, side by side.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from benchmarks._harness import compare

TARGET = 1.5


class RefConvLayer(nn.Sequential):
    """The authors' unit layer: BatchNorm -> ReLU -> Conv2d (implicit padding) -> Dropout2d."""

    def __init__(self, conv: nn.Conv2d, dropout: float) -> None:
        super().__init__(
            nn.BatchNorm2d(conv.in_channels),
            nn.ReLU(),
            nn.Conv2d(
                conv.in_channels,
                conv.out_channels,
                conv.kernel_size,
                stride=conv.stride,
                padding=conv.padding,
                dilation=conv.dilation,
            ),
            nn.Dropout2d(dropout),
        )


class RefParallel(nn.Module):
    """Parallel conv layers on one input, concatenated along the maps (temporal, spatial)."""

    def __init__(self, layers: list[nn.Module]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([layer(x) for layer in self.layers], dim=1)


class RefChannelNet(nn.Module):
    """EEG-ChannelNet with the layer geometry of ``ours`` (an eegbench ``dilated`` encoder),
    built from plain ``nn.Conv2d`` layers as in the authors' code; same state-dict keys."""

    def __init__(self, ours: nn.Module, embed_dim: int, n_classes: int) -> None:
        super().__init__()
        enc = ours.encoder
        p = enc.params.dropout

        def ref(layer: nn.Sequential) -> RefConvLayer:
            return RefConvLayer(layer[2], p)

        self.encoder = nn.Module()
        self.encoder.temporal = RefParallel([ref(x) for x in enc.temporal.layers])
        self.encoder.spatial = RefParallel([ref(x) for x in enc.spatial.layers])
        stages = []
        for stage in enc.res_blocks:
            block = type(stage[0])(stage[0].conv1.in_channels)  # the residual block as is
            stages.append(nn.Sequential(block, ref(stage[1])))
        self.encoder.res_blocks = nn.Sequential(*stages)
        self.encoder.final_conv = ref(enc.final_conv)
        self.embed = nn.Linear(ours.embed.in_features, embed_dim)
        self.classifier = nn.Linear(embed_dim, n_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        e = self.encoder
        h = e.final_conv(e.res_blocks(e.spatial(e.temporal(x.unsqueeze(1)))))
        emb = self.embed(h.flatten(1))
        return emb, self.classifier(emb)


def measure(quick: bool) -> list[dict]:
    import eegbench
    from eegbench.config import Stage1Config
    from eegbench.train.device import FP32, Precision, cpu_has_native_bf16
    from eegbench.train.model import EEGClassifier
    from eegbench.train.optim import make_optimizer, make_schedule
    from eegbench.train.stage1 import stage1_step

    cpu = torch.device("cpu")

    if quick:
        n_chans, n_times, width, batch, repeats = 16, 64, 0.25, 8, 3
    else:
        n_chans, n_times, width, batch, repeats = 128, 440, 1.0, 16, 2
    embed_dim, n_classes = 512, 40
    torch.manual_seed(0)
    enc = eegbench.get("encoders", "dilated").build(n_chans, n_times, width=width)
    ours = EEGClassifier(enc, embed_dim, n_classes)
    ref = RefChannelNet(ours, embed_dim, n_classes)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(batch, n_chans, n_times)
    y = torch.randint(0, n_classes, (batch,))
    with torch.no_grad():
        a, b = ours.eval()(x), ref.eval()(x)
    if not all(torch.allclose(u, v, rtol=1e-4, atol=1e-5) for u, v in zip(a, b, strict=True)):
        raise RuntimeError("the reference ChannelNet and eegbench's dilated encoder differ")
    ours.train()
    ref.train()

    # the authors' step: forward, CE, Adam, loss.item()
    ref_opt = torch.optim.Adam(ref.parameters(), lr=2e-5)
    losses: list[float] = []

    def reference() -> None:
        _, logits = ref(x)
        loss = F.cross_entropy(logits, y)
        ref_opt.zero_grad()
        loss.backward()
        ref_opt.step()
        losses.append(loss.item())

    # eegbench's step, as train_stage1 runs it (Thought2Text's stage-1 recipe)
    cfg = Stage1Config(
        batch_size=batch,
        lr=2e-5,
        weight_decay=1e-3,
        grad_clip=0.3,
        warmup_ratio=0.3,
        schedule="constant",
        loss="mse",
    )
    opt = make_optimizer(ours.parameters(), cfg.optimizer, cfg.lr, cfg.weight_decay)
    sched = make_schedule(opt, 1000, cfg.warmup_ratio, cfg.schedule)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    t = torch.randn(batch, embed_dim)
    idx = torch.arange(batch)
    bank, which = t, idx

    def eegbench_step(precision: Precision = FP32) -> Callable[[], None]:
        def step() -> None:
            stage1_step(ours, x, y, idx, t, bank, which, cfg, opt, sched, scaler, precision)

        return step

    params = {
        "n_chans": n_chans,
        "n_times": n_times,
        "width": width,
        "batch": batch,
        "threads": torch.get_num_threads(),
    }
    records = []
    if cpu_has_native_bf16():
        records.append(
            compare(
                "stage1",
                f"bf16 train step, dilated width {width:g}, {n_chans} x {n_times}, batch {batch}",
                ("plain PyTorch step (authors' style), fp32", reference),
                ("eegbench stage1_step, bf16 autocast", eegbench_step(Precision(cpu, "bf16"))),
                repeats=repeats,
                target=TARGET,
                params={**params, "precision": "bf16"},
                note="this CPU runs bf16 natively (AVX512-BF16 or AMX)",
            )
        )
    rec = compare(
        "stage1",
        f"train step, dilated width {width:g}, {n_chans} x {n_times}, batch {batch}",
        ("plain PyTorch step (authors' style)", reference),
        ("eegbench stage1_step", eegbench_step()),
        repeats=repeats,
        target=TARGET,
        params={**params, "precision": "fp32"},
        note="fp32 on both sides; same outputs checked (rtol 1e-4)"
        + ("" if cpu_has_native_bf16() else "; no native bf16 here, so no bf16 figure"),
    )
    return [rec, *records, *epoch_figures(quick)]


N_TRAIN, N_VAL, N_TEST = 61, 16, 19


def epoch_figures(quick: bool) -> list[dict]:
    """A whole stage-1 epoch of ``train_stage1`` and evaluation's forward, bf16 vs fp32."""
    import copy

    import numpy as np

    import eegbench
    from eegbench.config import Stage1Config
    from eegbench.progress import is_quiet, set_quiet
    from eegbench.train.device import Precision, cpu_has_native_bf16
    from eegbench.train.model import EEGClassifier
    from eegbench.train.stage1 import train_stage1

    if not cpu_has_native_bf16():
        return []
    n_chans, n_times, width, repeats = (16, 64, 0.25, 3) if quick else (128, 440, 1.0, 2)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N_TRAIN + N_VAL + N_TEST, n_chans, n_times)).astype(np.float32)
    y = rng.integers(0, 40, len(X))
    t = rng.standard_normal((N_TRAIN, 512)).astype(np.float32)
    torch.manual_seed(0)
    enc = eegbench.get("encoders", "dilated").build(n_chans, n_times, width=width)
    model0 = EEGClassifier(enc, 512, 40)
    cfg = Stage1Config(epochs=1, batch_size=16)  # the reference recipe otherwise
    tr, va, te = np.split(np.arange(len(X)), [N_TRAIN, N_TRAIN + N_VAL])

    def epoch(precision: Precision) -> Callable[[], None]:
        def run() -> None:
            model = copy.deepcopy(model0)
            generator = torch.Generator().manual_seed(0)
            train_stage1(model, X[tr], y[tr], t, X[va], y[va], cfg, generator, precision=precision)

        return run

    def forward(precision: Precision) -> Callable[[], None]:
        return lambda: model0.predict(X[te], precision=precision)

    shape = f"dilated width {width:g}, {n_chans} x {n_times}"
    params = {"n_chans": n_chans, "n_times": n_times, "width": width,
              "threads": torch.get_num_threads()}  # fmt: skip
    quiet = is_quiet()
    set_quiet(True)  # no progress bar inside the timing
    try:
        return _epoch_records(epoch, forward, shape, params, repeats)
    finally:
        set_quiet(quiet)


def _epoch_records(
    epoch: Callable[[Any], Callable[[], None]],
    forward: Callable[[Any], Callable[[], None]],
    shape: str,
    params: dict[str, Any],
    repeats: int,
) -> list[dict]:
    from eegbench.train.device import FP32, Precision

    bf16 = Precision(torch.device("cpu"), "bf16")
    return [
        compare(
            "stage1",
            f"whole epoch (train_stage1: {N_TRAIN} trials in batches 16/16/16/13, validation "
            f"{N_VAL}), {shape}",
            ("train_stage1 epoch, fp32", epoch(FP32)),
            ("train_stage1 epoch, bf16 autocast", epoch(bf16)),
            repeats=repeats,
            target=1.0,
            params={**params, "path": "epoch", "train": N_TRAIN, "val": N_VAL},
            note="the run's own epoch, partial batch and validation included",
        ),
        compare(
            "stage1",
            f"evaluation forward (predict, {N_TEST} test trials), {shape}",
            ("EEGClassifier.predict, fp32", forward(FP32)),
            ("EEGClassifier.predict, bf16 autocast", forward(bf16)),
            repeats=repeats,
            target=1.0,
            params={**params, "path": "forward", "test": N_TEST},
            note="eval mode, no gradients",
        ),
    ]
