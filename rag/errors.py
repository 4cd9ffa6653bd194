"""Exceptions a user can act on; the CLI prints their message as one line."""


class RagError(Exception):
    """Base of every expected error: its message says what went wrong and what to do."""


class UnreadableFileError(RagError):
    """A file could not be read; the message names the file and the reason."""


class IndexMismatchError(RagError):
    """The index was built with another embedding model or another layout."""


class CorruptIndexError(RagError):
    """The index on disk is damaged or is not an index of this program."""


class DocumentNotFoundError(RagError):
    """No stored document matches what the user named."""


class ModelUnavailableError(RagError):
    """A configured model cannot be found or loaded offline."""


class MissingIndexError(RagError):
    """No index has been built in the folder named."""


class SettingsError(RagError):
    """A setting in rag.toml or a RAG_* variable is invalid; the message names it."""


class SourceFileError(RagError):
    """A document's original file is missing, unreadable or changed since it was indexed."""


class DatasetError(RagError):
    """An evaluation dataset is missing, of an unknown layout or malformed; the message says where."""


class ExportError(RagError):
    """A briefing cannot be written: unknown format, missing font or unwritable file."""


class PromptTooLongError(RagError):
    """A prompt does not fit the language model's context window; the message says what to change."""


class StoreUnavailableError(RagError):
    """The store's database server cannot be reached or lacks what the store needs."""
