"""Arguments: find argument sentences, cluster them across documents, compare holders.

Entry point: :func:`build_arguments` (store in, ``arguments``/``clusters``/``comparison``
tables out); :func:`build_argument_tables` is the store-free core; :func:`embed_candidates`
fills the embedding cache per document ahead of it.
"""

from pipeline.arguments.build import (
    ArgumentResult,
    argument_id,
    build_argument_tables,
    build_arguments,
    embed_candidates,
)

__all__ = ["ArgumentResult", "argument_id", "build_argument_tables", "build_arguments",
           "embed_candidates"]
