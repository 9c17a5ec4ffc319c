"""Built-in dataset plugins, one module (and entry point) each."""
