"""An example eegbench plugin: encoder ``example-tcn`` and metric ``distinct``."""

__version__ = "0.1.0"
