"""An example eegbench plugin: one encoder, dataset, target, LLM backend and metric."""

__version__ = "0.1.0"
