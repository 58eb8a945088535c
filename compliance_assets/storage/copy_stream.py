"""PostgreSQL's COPY FROM STDIN fed a piece at a time, as the driver asks for it.

psycopg2 reads its input by calling `read()` and sends each piece on while the server parses the
one before: preparing the rows piece by piece lets our process and the server's work at the same
time (two cores), where preparing everything first left the server idle meanwhile and us idle
after (2 M events written in 10 s instead of 14.6 s)."""

from __future__ import annotations

from collections.abc import Iterable

ROWS_PER_PIECE = 20_000


class CopyStream:
    """A file-like source of COPY data whose `read` returns the next piece of `pieces`."""

    def __init__(self, pieces: Iterable[str]) -> None:
        self._pieces = (piece for piece in pieces if piece)  # an empty piece would end the COPY early

    def read(self, size: int = -1) -> str:  # the size the driver suggests is not binding on a file
        return next(self._pieces, "")
