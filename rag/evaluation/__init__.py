"""Quality as a command: datasets, metrics and runners behind `rag eval`."""
