"""Where journals live: in memory, in a SQLite file (the default)."""

from .base import RunInfo, Store
from .memory import MemoryStore
from .sqlite import SQLiteStore

__all__ = ["MemoryStore", "RunInfo", "SQLiteStore", "Store"]
