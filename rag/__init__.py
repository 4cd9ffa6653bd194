"""rag: cited answers from a library of reports, offline."""

__version__ = "0.1.0"
