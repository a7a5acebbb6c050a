"""stancemap's library: one module per stage, no orchestration (that lives in ``flows``)."""

__version__ = "0.1.0"
