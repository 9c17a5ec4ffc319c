"""Hook implementations: what this plugin registers, with typed parameters and citations.

This module is imported whenever eegbench loads its plugins (every CLI call), so it stays
light: the factories are lazy ``"module:attr"`` strings, and torch is imported only when the
encoder is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eegbench.api import hookimpl

TCN_CITATION = (
    "Bai, Kolter, Koltun (2018). An Empirical Evaluation of Generic Convolutional and Recurrent "
    "Networks for Sequence Modeling. arXiv:1803.01271"
)
DISTINCT_CITATION = (
    "Li, Galley, Brockett, Gao, Dolan (2016). A Diversity-Promoting Objective Function for "
    "Neural Conversation Models. NAACL-HLT 2016, pp. 110-119. doi:10.18653/v1/N16-1014"
)


@dataclass
class TCNParams:
    """Parameters of ``example-tcn`` (``encoder.hidden=64`` on the command line)."""

    hidden: int = field(default=32, metadata={"help": "channels of every temporal conv"})
    kernel: int = field(default=7, metadata={"help": "temporal kernel length (odd)"})
    levels: int = field(default=3, metadata={"help": "residual blocks, dilation 1, 2, 4, ..."})
    dropout: float = field(default=0.1, metadata={"help": "dropout after each conv"})


@dataclass
class DistinctParams:
    lowercase: bool = field(default=True, metadata={"help": "lowercase before counting"})


@hookimpl
def register_encoders(register) -> None:  # the core's register callback
    register(
        "example-tcn",
        "eegbench_example.encoder:TemporalConvNet",
        params=TCNParams,
        citation=TCN_CITATION,
        description="example plugin: dilated residual temporal convs, mean over time",
    )


@hookimpl
def register_metrics(register) -> None:
    register(
        "distinct",
        "eegbench_example.metric:Distinct",
        params=DistinctParams,
        citation=DISTINCT_CITATION,
        description="example plugin: Distinct-1/2, unique n-grams / all n-grams of the captions",
    )
