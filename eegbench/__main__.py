"""``python -m eegbench``: the ``eegbench`` command."""

from eegbench.cli import main

if __name__ == "__main__":
    main()
