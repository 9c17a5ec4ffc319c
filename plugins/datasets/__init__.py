"""Built-in dataset plugins: one table, ``DATASETS``, declares each of them once.

Each module holds its params dataclass and a loader that takes the validated instance
(``load_cvpr40(p: CVPR40Params) -> EEGData``); loaders are lazy ``module:attr`` strings, and
the modules import only numpy and ``eegbench.api`` (readers such as MNE load when a dataset is
built).
"""

from __future__ import annotations

from typing import Any

from eegbench_plugins.datasets.braindecode_windows import BraindecodeParams
from eegbench_plugins.datasets.cvpr40 import CVPR40Params
from eegbench_plugins.datasets.mne_epochs import BIDSParams, MNEEpochsParams
from eegbench_plugins.datasets.moabb_data import MOABBParams
from eegbench_plugins.datasets.synthetic import SyntheticParams
from eegbench_plugins.datasets.things_eeg2 import ThingsEEG2Params

from eegbench.api import Register, Spec, hookimpl, register_all

_PKG = "eegbench_plugins.datasets"


def _folders(params: Any) -> list[str]:
    """Captions and images when their folders are set (``caption_dir``, ``image_dir``)."""
    return [
        kind
        for kind, folder in (("captions", params.caption_dir), ("images", params.image_dir))
        if folder
    ]


def _nothing(params: Any) -> list[str]:
    return []


DATASETS: tuple[Spec, ...] = (
    Spec(
        "synthetic",
        f"{_PKG}.synthetic:make_synthetic",
        params=SyntheticParams,
        provides=lambda params: ["captions"],
        citation=(
            "eegbench synthetic visual-evoked EEG (built-in simulation, "
            "plugins/datasets/synthetic.py); object classes from Spampinato et al., 'Deep "
            "Learning Human Mind for Automated Visual Classification', CVPR 2017."
        ),
        description="Simulated visual-evoked EEG with colour/setting captions and known truth.",
    ),
    Spec(
        "cvpr40",
        f"{_PKG}.cvpr40:load_cvpr40",
        params=CVPR40Params,
        provides=_folders,
        citation=(
            "Spampinato et al., 'Deep Learning Human Mind for Automated Visual Classification', "
            "CVPR 2017; Palazzo et al., 'Decoding Brain Representations by Multimodal Learning "
            "of Neural Activity and Visual Features', TPAMI 2020. Block-design critique: Li et "
            "al., 'The Perils and Pitfalls of Block Design for EEG Classification Experiments', "
            "TPAMI 2020."
        ),
        description="CVPR40 / EEG-ImageNet: 6 subjects, 40 classes, 128 ch, 1 kHz (.pth files)",
    ),
    Spec(
        "things_eeg2",
        f"{_PKG}.things_eeg2:load_things_eeg2",
        params=ThingsEEG2Params,
        provides=_folders,
        citation=(
            "Gifford, Dwivedi, Roig, Cichy, 'A large and rich EEG dataset for modeling human "
            "visual object recognition', NeuroImage 264, 2022."
        ),
        description="THINGS-EEG2: 10 subjects, 16,540 train + 200 zero-shot test images, 100 Hz",
    ),
    Spec(
        "mne_epochs",
        f"{_PKG}.mne_epochs:load_mne_epochs",
        params=MNEEpochsParams,
        provides=f"{_PKG}.mne_epochs:epochs_provides",
        citation=(
            "Gramfort et al., 'MEG and EEG data analysis with MNE-Python', Frontiers in "
            "Neuroscience 7, 2013."
        ),
        description="any MNE epochs file (-epo.fif) with an optional stimulus/caption table",
    ),
    Spec(
        "bids",
        f"{_PKG}.mne_epochs:load_bids",
        params=BIDSParams,
        provides=f"{_PKG}.mne_epochs:bids_provides",
        citation=(
            "Appelhoff et al., 'MNE-BIDS: Organizing electrophysiological data into the BIDS "
            "format and facilitating their analysis', JOSS 4(44), 2019; Pernet et al., "
            "'EEG-BIDS', Scientific Data 6, 2019."
        ),
        description="one BIDS EEG recording via mne-bids, epoched around its annotated events",
    ),
    Spec(
        "moabb",
        f"{_PKG}.moabb_data:load_moabb",
        params=MOABBParams,
        provides=_nothing,
        preflight=f"{_PKG}.moabb_data:moabb_preflight",
        citation=(
            "Aristimunho et al., 'MOABB: Mother of All BCI Benchmarks', Zenodo 2025, "
            "doi:10.5281/zenodo.10034223; Jayaram & Barachant, 'MOABB: trustworthy algorithm "
            "benchmarking for BCIs', J. Neural Eng. 15(6), 2018."
        ),
        description="any MOABB dataset through a MOABB paradigm (FakeDataset offline)",
    ),
    Spec(
        "braindecode",
        f"{_PKG}.braindecode_windows:load_braindecode",
        params=BraindecodeParams,
        provides=_nothing,
        preflight=f"{_PKG}.braindecode_windows:braindecode_preflight",
        citation=(
            "Schirrmeister et al., 'Deep learning with convolutional neural networks for EEG "
            "decoding and visualization', Human Brain Mapping 38(11), 2017 (braindecode)."
        ),
        description="a braindecode windows dataset (saved folder or a factory function)",
    ),
)


@hookimpl
def register_datasets(register: Register) -> None:
    register_all(register, DATASETS)
