"""Built-in EEG encoders: one table, ``ENCODERS``, declares each of them once.

Factories are lazy ``module:attr`` strings, so listing imports no torch. Every encoder maps
``[B, C, T]`` to ``[B, n_features]`` and holds no task head.
"""

from __future__ import annotations

from eegbench_plugins.encoders.params import (
    ChannelNetParams,
    ConformerParams,
    DeepParams,
    EEGNetParams,
    LinearParams,
    LSTMParams,
    ShallowParams,
)

from eegbench.api import Register, Spec, hookimpl, register_all

_PKG = "eegbench_plugins.encoders"

# ShallowFBCSPNet and Deep4Net come from the same paper.
SCHIRRMEISTER_2017 = (
    "Schirrmeister, Springenberg, Fiederer, Glasstetter, Eggensperger, Tangermann, Hutter, "
    "Burgard, Ball (2017). Deep learning with convolutional neural networks for EEG decoding and "
    "visualization. Hum. Brain Mapp. 38(11):5391-5420. doi:10.1002/hbm.23730; arXiv:1703.05051"
)

ENCODERS: tuple[Spec, ...] = (
    Spec(
        "dilated",
        f"{_PKG}.channelnet:ChannelNet",
        params=ChannelNetParams,
        citation=(
            "Palazzo, Spampinato, Kavasidis, Giordano, Schmidt, Shah (2020). Decoding Brain "
            "Representations by Multimodal Learning of Neural Activity and Visual Features. IEEE "
            "TPAMI 43(11):3833-3849. doi:10.1109/TPAMI.2020.2995909; arXiv:1810.10974"
        ),
        description=(
            "EEG-ChannelNet, the Thought2Text encoder: dilated temporal + multi-scale spatial "
            "convs, residual stages (500 features at 128x440)"
        ),
    ),
    Spec(
        "eegnet",
        f"{_PKG}.eegnet:EEGNet",
        params=EEGNetParams,
        citation=(
            "Lawhern, Solon, Waytowich, Gordon, Hung, Lance (2018). EEGNet: a compact "
            "convolutional neural network for EEG-based brain-computer interfaces. J. Neural Eng. "
            "15(5):056013. doi:10.1088/1741-2552/aace8c; arXiv:1611.08024"
        ),
        description=(
            "EEGNet-8,2: temporal conv, depthwise spatial conv, separable conv (compact CNN)"
        ),
    ),
    Spec(
        "shallow",
        f"{_PKG}.schirrmeister:ShallowFBCSPNet",
        params=ShallowParams,
        citation=SCHIRRMEISTER_2017,
        description=(
            "ShallowFBCSPNet: temporal + spatial conv, square, mean pool, log (band-power features)"
        ),
    ),
    Spec(
        "deep",
        f"{_PKG}.schirrmeister:Deep4Net",
        params=DeepParams,
        citation=SCHIRRMEISTER_2017,
        description=(
            "Deep4Net: four conv-max-pool blocks (25, 50, 100, 200 filters), ELU, batch norm"
        ),
    ),
    Spec(
        "lstm",
        f"{_PKG}.lstm:LSTMEncoder",
        params=LSTMParams,
        citation=(
            "Spampinato, Palazzo, Kavasidis, Giordano, Souly, Shah (2017). Deep Learning Human "
            "Mind for Automated Visual Classification. CVPR 2017, pp. 6809-6817. "
            "doi:10.1109/CVPR.2017.479; arXiv:1609.00344"
        ),
        description="LSTM over time (channels as features), last hidden state + ReLU output layer",
    ),
    Spec(
        "conformer",
        f"{_PKG}.conformer:EEGConformer",
        params=ConformerParams,
        citation=(
            "Song, Zheng, Liu, Gao (2023). EEG Conformer: Convolutional Transformer for EEG "
            "Decoding and Visualization. IEEE Trans. Neural Syst. Rehabil. Eng. 31:710-719. "
            "doi:10.1109/TNSRE.2022.3230250"
        ),
        description="EEG Conformer: conv patch embedding + 6-layer transformer (10 heads, emb 40)",
    ),
    Spec(
        "linear",
        f"{_PKG}.linear:LinearEncoder",
        params=LinearParams,
        citation=(
            "Baseline (no publication): the flattened input, the floor every encoder must beat."
        ),
        description="flattened raw input (optionally one Linear layer): the leaderboard floor",
    ),
)


@hookimpl
def register_encoders(register: Register) -> None:
    register_all(register, ENCODERS)
