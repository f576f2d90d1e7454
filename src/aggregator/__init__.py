"""aggregator: an offline-first library of the sources you choose."""

__version__ = "0.1.0"
