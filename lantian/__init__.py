"""The ``lantian`` command: the entry point that ties config, store, ingest and dashboard."""
__version__ = "0.1.0"
