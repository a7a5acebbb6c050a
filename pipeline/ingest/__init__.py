"""Ingestion: find the corpus's files and turn each into documents, pages and sentences rows.

Entry points: :func:`discover` and :func:`ingest_document` (pure: it reads, never writes).
"""

from pipeline.ingest.discover import SourceFile, discover
from pipeline.ingest.document import FORMATS, IngestedDocument, ingest_document

__all__ = ["FORMATS", "IngestedDocument", "SourceFile", "discover", "ingest_document"]
