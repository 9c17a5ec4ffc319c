"""``python -m benchmarks.gpu``: the GPU checks in one command, one line per check.

On a machine with CUDA: the reference-shape rehearsal of ``--config thought2text`` (full
EEG-ChannelNet at 128 x 440, a ViT-B-32 CLIP and a Mistral-7B-architecture LM, random weights,
one batch per stage, every metric and control) in bf16 and in fp16; a data-parallel run of the
tiny config on every visible GPU (``--processes N``, NCCL); and ``load_run`` of a finished run
onto CUDA, whose captions must equal its predictions.csv. Without CUDA every check prints
``skip`` with the reason and the command exits 0. Exit 1 when a check fails.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path


def tiny(root: Path) -> list[str]:
    """The test suite's tiny run (a linear encoder), writing under ``root``."""
    from tests.conftest import tiny_overrides

    return [*tiny_overrides(root), "encoder=linear"]


def cuda_devices() -> tuple[int, str]:
    """(number of visible GPUs, why none are usable or their names)."""
    import torch

    if not torch.cuda.is_available():
        return 0, "no CUDA device is visible (torch.cuda.is_available() is False)"
    n = torch.cuda.device_count()
    return n, ", ".join(torch.cuda.get_device_name(i) for i in range(n))


def invoke(args: list[str]) -> None:
    """``eegbench ARGS`` in this process; raises with the command's output when it fails."""
    from click.testing import CliRunner

    from eegbench.cli import cli

    res = CliRunner().invoke(cli, ["--quiet", *args])
    if res.exit_code != 0:
        raise RuntimeError((res.output.strip().splitlines() or [repr(res.exception)])[-1])


def rehearsal(root: Path, precision: str) -> str:
    from benchmarks.rehearsal import rehearsal_args
    from eegbench.results.record import RunRecord

    name = f"rehearsal-{precision}"
    dtype = {"bf16": "bfloat16", "fp16": "float16"}[precision]
    invoke(["run", *rehearsal_args(root / name, "cuda", precision, llm__dtype=dtype,
                                   run_name=name)])  # fmt: skip
    record = RunRecord.read(root / name / "runs" / name)
    return (
        f"encoder {record.model.encoder_parameters:,} params / {record.model.encoder_features} "
        f"features, d_model {record.model.d_model}, peak {record.peak_memory_mb:.0f} MiB, "
        f"{len(record.controls)} controls"
    )


def data_parallel(root: Path, n_gpus: int) -> str:
    if n_gpus < 2:
        raise SkipCheck(f"needs 2 or more GPUs, {n_gpus} visible")
    out = root / "ddp"
    invoke(["run", "--processes", str(n_gpus), *tiny(root), "device=cuda",
            f"output_dir={out}", "run_name=ddp"])  # fmt: skip
    from eegbench.results.record import RunRecord

    record = RunRecord.read(out / "ddp")
    return f"world_size {record.world_size}, top-1 {record.metrics['top1_accuracy'].value:.3f}"


def load_onto_cuda(root: Path) -> str:
    from eegbench.evaluation.predictions import read_predictions
    from eegbench.tools.inference import load_run
    from eegbench.train.generation import generate_captions

    out = root / "cpu-run"
    invoke(["run", *tiny(root), "device=cpu", f"output_dir={out}", "run_name=r"])
    pipe = load_run(out / "r", device="cuda")
    data, test = pipe.data, pipe.data.splits["test"]
    emb, logits = pipe.model.predict(data.X[test], precision=pipe.precision)
    labels = [data.class_names[k] for k in logits.argmax(1)]
    captions = generate_captions(
        pipe.llm,
        pipe.projector,
        emb,
        labels,
        max_new_tokens=pipe.config.eval.max_new_tokens,
        repetition_penalty=pipe.config.eval.repetition_penalty,
        precision=pipe.precision,
        prompt=pipe.prompt,
    )
    expected = read_predictions(out / "r" / "predictions.csv").generated
    same = sum(a == b for a, b in zip(captions, expected, strict=True))
    if same != len(expected):
        raise RuntimeError(f"{same} of {len(expected)} captions equal predictions.csv")
    return f"{same}/{len(expected)} captions equal predictions.csv (on {pipe.precision.device})"


class SkipCheck(Exception):
    """A check that cannot run here; its message says why."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu", description=__doc__)
    parser.add_argument("--keep", type=Path, default=None, help="write under this folder")
    args = parser.parse_args(argv)
    n_gpus, about = cuda_devices()
    checks: list[tuple[str, Callable[[Path], str]]] = [
        ("rehearsal thought2text bf16", lambda r: rehearsal(r, "bf16")),
        ("rehearsal thought2text fp16", lambda r: rehearsal(r, "fp16")),
        (f"data-parallel on {n_gpus} GPU(s)", lambda r: data_parallel(r, n_gpus)),
        ("load_run onto cuda", load_onto_cuda),
    ]
    print(f"gpu: {about}" if n_gpus else f"gpu: none ({about})")
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        for name, check in checks:
            if not n_gpus:
                print(f"skip  {name}: {about}")
                continue
            t0 = time.perf_counter()
            try:
                detail = check(root)
            except SkipCheck as e:
                print(f"skip  {name}: {e}")
                continue
            except Exception as e:  # a failed check is reported and the others still run
                failed += 1
                print(f"FAIL  {name} ({time.perf_counter() - t0:.1f} s): {e}")
                traceback.print_exc(file=sys.stderr)
                continue
            print(f"ok    {name} ({time.perf_counter() - t0:.1f} s): {detail}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
