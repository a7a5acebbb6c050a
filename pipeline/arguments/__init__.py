"""Arguments: find argument sentences, cluster them across documents, compare holders.

Entry point: :func:`build_arguments` (store in, ``arguments``/``clusters``/``comparison``
tables out). Its store-free cores are :func:`build_argument_tables` (a full build) and
:func:`update_argument_tables` (documents join the themes of the last full build);
:func:`embed_candidates` fills the embedding cache per document ahead of them.
"""

from pipeline.arguments.build import (
    ArgumentMatching,
    ArgumentResult,
    argument_id,
    build_argument_tables,
    build_arguments,
    embed_candidates,
    load_argument_matching,
    update_argument_tables,
)

__all__ = ["ArgumentMatching", "ArgumentResult", "argument_id", "build_argument_tables",
           "build_arguments", "embed_candidates", "load_argument_matching",
           "update_argument_tables"]
