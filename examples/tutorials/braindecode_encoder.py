"""Tutorial: a braindecode model as the EEG encoder, and the leaderboard against a baseline.

With the ``braindecode`` extra installed, every braindecode model is an eegbench encoder named
``braindecode:<Model>`` (``eegbench ls encoders 'braindecode:*' -v`` lists them with their
parameters). eegbench gives the model the data's channels, samples and sampling rate, takes its
features (``encoder.n_outputs`` of them) in place of its classification layer, and adds its own
embedding and class heads.

    pip install -c constraints.txt -e ".[braindecode]"
    python examples/tutorials/braindecode_encoder.py --out my-folder
"""

from __future__ import annotations

from _common import SMALL, eegbench, workdir

# the synthetic benchmark, made small: 6 classes, 8 channels x 64 samples
DATA = [
    "dataset.n_classes=6",
    "dataset.n_subjects=1",
    "dataset.n_chans=8",
    "dataset.images_per_class=5",
    "dataset.repetitions=2",
    "dataset.test_images=1",
    "eval.metrics=[accuracy,retrieval,bleu]",
    "eval.controls=[noise]",
]


def main() -> None:
    folder = workdir(__doc__)
    runs = folder / "runs"
    common = [f"output_dir={runs}", f"cache_dir={folder / 'cache'}", *DATA, *SMALL]
    eegbench("ls", "encoders", "braindecode:EEGNet", "-v")
    # one seed each keeps the tutorial quick; with several (seed=1, seed=2, ...) the leaderboard
    # shows the mean over seeds and its 95% t-interval instead of the run's bootstrap interval
    for seed in (1,):
        eegbench(
            "--quiet",
            "run",
            *common,
            "encoder=braindecode:EEGNet",
            "encoder.n_outputs=32",  # the feature size eegbench asks the model for
            f"seed={seed}",
            f"run_name=eegnet-s{seed}",
        )
        eegbench(
            "--quiet", "run", *common, "encoder=linear", f"seed={seed}", f"run_name=lin-s{seed}"
        )
    eegbench(
        "leaderboard",
        str(runs),
        "--format",
        "md",
        "--delta",
        "noise",
        "--plot",
        str(folder / "leaderboard.png"),
    )


if __name__ == "__main__":
    main()
