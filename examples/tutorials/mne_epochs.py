"""Tutorial: an MNE epochs file through ``eegbench run``, ``report`` and ``compare``.

Any ``-epo.fif`` file works: its event codes are the classes, and a stimulus table (CSV) says
which image each trial showed and its caption. Here the file is made first: 3 classes, 90
trials of 8 EEG channels at 128 Hz, each class with its own evoked response.

    python examples/tutorials/mne_epochs.py --out my-folder
"""

from __future__ import annotations

import numpy as np
from _common import SMALL, eegbench, workdir

CLASSES = {"face": 1, "house": 2, "car": 3}
COLOURS = ["red", "blue", "green", "yellow"]


def make_epochs_file(folder):
    """``sub01-epo.fif`` and ``stimuli.csv``: the recording and what each trial showed."""
    import mne

    sfreq, n_trials, n_times = 128.0, 90, 64
    ch_names = ["Fz", "Cz", "Pz", "O1", "Oz", "O2", "P7", "P8"]
    info = mne.create_info(ch_names, sfreq, "eeg")
    rng = np.random.default_rng(0)
    codes = np.tile(list(CLASSES.values()), n_trials // len(CLASSES))
    t = np.arange(n_times) / sfreq
    x = rng.normal(scale=2e-6, size=(n_trials, len(ch_names), n_times))
    for i, code in enumerate(codes):  # a class-specific ERP over occipital channels
        x[i, 3:6] += 4e-6 * np.sin(2 * np.pi * (2 + code) * t) * np.exp(-t / 0.2)
    events = np.c_[np.arange(n_trials) * 200, np.zeros(n_trials, int), codes]
    epochs = mne.EpochsArray(x, info, events, tmin=-0.1, event_id=CLASSES, verbose="error")
    fif = folder / "sub01-epo.fif"
    epochs.save(fif, overwrite=True, verbose="error")

    names = {v: k for k, v in CLASSES.items()}
    rows = ["trial,image,caption"]
    for i, code in enumerate(codes):
        k = (i // len(CLASSES)) % 10  # 10 images per class, each shown 3 times
        colour = COLOURS[k % len(COLOURS)]
        rows.append(f"{i},{names[code]}{k}.png,A {colour} {names[code]} in the picture.")
    csv = folder / "stimuli.csv"
    csv.write_text("\n".join(rows) + "\n")
    return fif, csv


def main() -> None:
    folder = workdir(__doc__)
    fif, csv = make_epochs_file(folder)
    runs = folder / "runs"
    data = [
        "dataset=mne_epochs",
        f"dataset.path={fif}",
        f"dataset.stimuli_csv={csv}",
        "dataset.stratify=false",  # 30 images: split by image, not stratified by class
        "eval.metrics=[accuracy,bleu,rouge,meteor]",
        f"output_dir={runs}",
        f"cache_dir={folder / 'cache'}",
        *SMALL,
    ]
    # two encoders on the same data and splits
    eegbench("--quiet", "run", *data, "encoder=linear", "run_name=linear")
    eegbench("--quiet", "run", *data, "encoder=eegnet", "run_name=eegnet")
    # one HTML page: leaderboard, metrics with CIs, curves, figures, captions
    eegbench("report", str(runs), "--out", str(folder / "report.html"))
    # paired permutation test per metric, trials that share an image permuted together
    eegbench("compare", str(runs / "linear"), str(runs / "eegnet"), "--n-perm", "200")


if __name__ == "__main__":
    main()
