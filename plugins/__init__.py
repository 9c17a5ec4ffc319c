"""Built-in eegbench plugins. Each family registers through the ``eegbench`` entry points."""
