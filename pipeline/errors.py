"""The exception hierarchy. Per-document failures become rows in the ``errors`` table."""

from __future__ import annotations

from pipeline.safety import clean_message, printable_path


class StancemapError(Exception):
    """Base class of every error stancemap raises on purpose."""


class ConfigError(StancemapError):
    """The configuration or a data file it names (targets, patterns) is invalid."""


class SchemaMismatchError(StancemapError):
    """A table does not match its declared schema."""


class OutputLockedError(StancemapError):
    """Another run holds the lock on the output folder."""


class QueryError(StancemapError):
    """A SQL query was rejected or failed."""


class DocumentError(StancemapError):
    """A single document could not be processed; the run goes on without it.

    ``kind`` is a short machine-readable category (``empty``, ``encrypted``, ...) and the
    message is written for a person.
    """

    kind: str = "failed"

    def __init__(self, path: str, reason: str, kind: str | None = None) -> None:
        # Whatever a parser or a sidecar put in the message, no secret or unprintable name
        # leaves here (the message becomes an errors row and a report line).
        self.path = printable_path(path)
        self.reason = clean_message(reason)
        if kind is not None:
            self.kind = kind
        super().__init__(f"{self.path}: {self.reason}")

    def __reduce__(self) -> tuple[type[DocumentError], tuple[str, str, str]]:
        # Crosses process boundaries (worker processes): keep path, reason and kind.
        return type(self), (self.path, self.reason, self.kind)


class UnsupportedFormatError(DocumentError):
    kind = "unsupported"


class EmptyDocumentError(DocumentError):
    kind = "empty"


class CorruptDocumentError(DocumentError):
    kind = "corrupt"


class EncryptedDocumentError(DocumentError):
    kind = "encrypted"


class NoTextLayerError(DocumentError):
    kind = "image_only"


class LimitExceededError(DocumentError):
    kind = "limit"


class WorkerCrashedError(DocumentError):
    """The worker process handling the document died (a crash in a parser, the OOM killer)."""

    kind = "crashed"


class OutputTargetError(StancemapError):
    """An output URL cannot be reached, read or written (unknown protocol, credentials, network)."""


class ThemeFileError(ConfigError):
    """An analyst theme file (a codebook of key points) is invalid; the message names the
    file and line."""
