"""Opening the database a command names: ``--db``, then ``$FLOWPOINT_DB``, then the default.

Reading commands never create a database: a typo in a path should say "no database
there", not show an empty list from a file it just made.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..stores.base import Store
from ..stores.sqlite import DEFAULT_PATH, SQLiteStore
from ._errors import CliError

_SQLITE_PREFIX = "sqlite:///"
_POSTGRES_SCHEMES = ("postgres://", "postgresql://")


def database_location(db: str | None) -> str:
    """What the user pointed at, as given (for messages and follow-up commands)."""
    return db or os.environ.get("FLOWPOINT_DB") or str(DEFAULT_PATH)


@contextmanager
def open_store(db: str | None, *, create: bool = False) -> Iterator[Store]:
    """The store at ``db``, closed (and its writes committed) when the block ends."""
    store = connect(database_location(db), create=create)
    try:
        yield store
    finally:
        store.close()


def connect(location: str, *, create: bool = False) -> Store:
    if location.startswith(_POSTGRES_SCHEMES):
        return _postgres(location)
    if "://" in location and not location.startswith(_SQLITE_PREFIX):
        raise CliError(
            f"unknown database {location!r}",
            f"give a SQLite file path, {_SQLITE_PREFIX}PATH or postgresql://...",
        )
    path = Path(
        location[len(_SQLITE_PREFIX) :] if location.startswith(_SQLITE_PREFIX) else location
    )
    if not create and not path.exists():
        raise CliError(
            f"no flowpoint database at {path}",
            "run `flowpoint demo` to create one, or point --db / FLOWPOINT_DB at yours",
        )
    if path.is_dir():
        raise CliError(f"{path} is a directory, not a database file", "give the file's path")
    try:
        return SQLiteStore(path)
    except OSError as exc:
        raise CliError(
            f"cannot open database {path}: {exc.strerror or exc}",
            "check the path and its permissions, or point --db / FLOWPOINT_DB elsewhere",
        ) from None


def _postgres(dsn: str) -> Store:
    try:
        from .. import stores

        store_class = stores.PostgresStore  # type: ignore[attr-defined]
    except AttributeError:
        raise CliError(
            "this flowpoint has no PostgreSQL store yet",
            "use a SQLite file for --db",
        ) from None
    return store_class(dsn)  # type: ignore[no-any-return]


__all__ = ["connect", "database_location", "open_store"]
