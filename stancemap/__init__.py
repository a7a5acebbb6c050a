"""The stancemap command line and runtime set-up (see :mod:`stancemap.cli`)."""
