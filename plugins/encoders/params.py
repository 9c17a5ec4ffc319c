"""Typed parameters of the built-in encoders (kept free of torch so listing stays cheap)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from eegbench.api import Ge, Gt, Interval


@dataclass(frozen=True)
class ChannelNetParams:
    """EEG-ChannelNet (``dilated``); defaults are the reference configuration."""

    temporal_filters: Annotated[int, Ge(1)] = field(
        default=10, metadata={"help": "filters per dilated conv"}
    )
    temporal_kernel: Annotated[int, Ge(1)] = field(
        default=33, metadata={"help": "temporal kernel length"}
    )
    dilations: tuple[Annotated[int, Ge(1)], ...] = field(
        default=(1, 2, 4, 8), metadata={"help": "one parallel temporal conv per dilation"}
    )
    spatial_filters: Annotated[int, Ge(1)] = field(
        default=50, metadata={"help": "filters per spatial conv"}
    )
    n_spatial_layers: Annotated[int, Ge(1)] = field(
        default=4, metadata={"help": "parallel spatial convs, kernel heights C, C/2, ..."}
    )
    residual_blocks: Annotated[int, Ge(0)] = field(
        default=4, metadata={"help": "residual block + stride-2 conv stages"}
    )
    out_filters: Annotated[int, Ge(1)] = field(
        default=50, metadata={"help": "maps of the final 3x3 conv"}
    )
    dropout: Annotated[float, Interval(ge=0, lt=1)] = field(
        default=0.2, metadata={"help": "Dropout2d after every conv layer"}
    )
    width: Annotated[float, Gt(0)] = field(
        default=1.0, metadata={"help": "multiplier on every filter count (CPU presets: 0.25)"}
    )


@dataclass(frozen=True)
class EEGNetParams:
    """EEGNet-F1,D (defaults: EEGNet-8,2)."""

    f1: Annotated[int, Ge(1)] = field(default=8, metadata={"help": "temporal filters"})
    d: Annotated[int, Ge(1)] = field(
        default=2, metadata={"help": "spatial filters per temporal filter"}
    )
    f2: Annotated[int, Ge(1)] = field(
        default=16, metadata={"help": "pointwise filters (paper: F1*D)"}
    )
    kernel_length: Annotated[int, Ge(1)] = field(
        default=64, metadata={"help": "temporal kernel; paper: half the sampling rate"}
    )
    separable_kernel: Annotated[int, Ge(1)] = field(
        default=16, metadata={"help": "separable conv kernel"}
    )
    pool1: Annotated[int, Ge(1)] = field(
        default=4, metadata={"help": "first average pool (shrunk if T is short)"}
    )
    pool2: Annotated[int, Ge(1)] = field(
        default=8, metadata={"help": "second average pool (shrunk if T is short)"}
    )
    dropout: Annotated[float, Interval(ge=0, lt=1)] = field(
        default=0.5, metadata={"help": "0.5 within-subject, 0.25 cross-subject (paper)"}
    )
    max_norm: Annotated[float, Ge(0)] = field(
        default=1.0, metadata={"help": "max L2 norm of each spatial filter (0 disables)"}
    )


@dataclass(frozen=True)
class ShallowParams:
    """ShallowFBCSPNet (Shallow ConvNet)."""

    n_filters: Annotated[int, Ge(1)] = field(
        default=40, metadata={"help": "temporal and spatial filters"}
    )
    kernel_length: Annotated[int, Ge(1)] = field(default=25, metadata={"help": "temporal kernel"})
    pool_length: Annotated[int, Ge(1)] = field(
        default=75, metadata={"help": "mean-pool length (shrunk if short)"}
    )
    pool_stride: Annotated[int, Ge(1)] = field(default=15, metadata={"help": "mean-pool stride"})
    dropout: Annotated[float, Interval(ge=0, lt=1)] = field(
        default=0.5, metadata={"help": "dropout before the features"}
    )


@dataclass(frozen=True)
class DeepParams:
    """Deep4Net (Deep ConvNet)."""

    n_filters: tuple[Annotated[int, Ge(1)], ...] = field(
        default=(25, 50, 100, 200), metadata={"help": "filters of each conv-pool block"}
    )
    kernel_length: Annotated[int, Ge(1)] = field(
        default=10, metadata={"help": "temporal kernel of every block"}
    )
    pool_length: Annotated[int, Ge(1)] = field(
        default=3, metadata={"help": "max-pool length and stride"}
    )
    dropout: Annotated[float, Interval(ge=0, lt=1)] = field(
        default=0.5, metadata={"help": "dropout before blocks 2..4"}
    )


@dataclass(frozen=True)
class LSTMParams:
    """LSTM encoder of Spampinato et al. 2017."""

    hidden_size: Annotated[int, Ge(1)] = field(default=128, metadata={"help": "LSTM hidden units"})
    num_layers: Annotated[int, Ge(1)] = field(default=1, metadata={"help": "stacked LSTM layers"})
    output_size: Annotated[int, Ge(0)] = field(
        default=128, metadata={"help": "ReLU output layer after the last state (0: none)"}
    )
    dropout: Annotated[float, Interval(ge=0, lt=1)] = field(
        default=0.0, metadata={"help": "dropout between LSTM layers"}
    )


@dataclass(frozen=True)
class ConformerParams:
    """EEG Conformer (without its classification MLP)."""

    n_filters: Annotated[int, Ge(1)] = field(
        default=40, metadata={"help": "patch-embedding filters = emb size"}
    )
    kernel_length: Annotated[int, Ge(1)] = field(
        default=25, metadata={"help": "temporal conv kernel"}
    )
    pool_length: Annotated[int, Ge(1)] = field(
        default=75, metadata={"help": "average pool (shrunk if short)"}
    )
    pool_stride: Annotated[int, Ge(1)] = field(default=15, metadata={"help": "average pool stride"})
    depth: Annotated[int, Ge(1)] = field(default=6, metadata={"help": "transformer layers"})
    heads: Annotated[int, Ge(1)] = field(
        default=10, metadata={"help": "attention heads (must divide n_filters)"}
    )
    dropout: Annotated[float, Interval(ge=0, lt=1)] = field(
        default=0.5, metadata={"help": "dropout in embedding and attention"}
    )


@dataclass(frozen=True)
class LinearParams:
    """The flattened input, optionally through one Linear layer."""

    out_features: Annotated[int, Ge(0)] = field(
        default=0, metadata={"help": "Linear(C*T -> out_features); 0: features = the raw input"}
    )
