"""Arguments: find argument sentences, cluster them across documents, compare holders.

Entry point: :func:`build_arguments` (store in, ``arguments``/``clusters``/``comparison``
tables out); :func:`build_argument_tables` is the store-free core.
"""

from pipeline.arguments.build import (
    ArgumentResult,
    argument_id,
    build_argument_tables,
    build_arguments,
)

__all__ = ["ArgumentResult", "argument_id", "build_argument_tables", "build_arguments"]
