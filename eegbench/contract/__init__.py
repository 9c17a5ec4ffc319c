"""The plugin contract's modules: hooks, registrations, the errors shown as one line, EEGData,
the encoder, target, LLM and metric contracts, hub models, safe ``.npy`` reading.

The bottom of eegbench's own layers: the core imports these modules; a plugin imports their
names through ``eegbench.api``, the plugin-facing façade at the top of the layers (which also
gives the dataset helpers of ``eegbench.data`` and the progress and file helpers).
"""
