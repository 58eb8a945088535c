"""Exceptions from user transforms can carry personal data in their message (a KeyError on an
email, a ValueError quoting a row). Dagster stores step errors in the event log and shows them to
everyone, so the factories re-raise them with the type and place only."""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from contextlib import contextmanager

from dagster import Failure


@contextmanager
def withheld_messages(what: str) -> Iterator[None]:
    try:
        yield
    except Failure:
        raise
    except Exception as exc:  # noqa: BLE001 - every user error is re-raised, without its message
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        raise Failure(
            description=(
                f"{what} raised {type(exc).__name__} at {frame.filename}:{frame.lineno} in {frame.name}(). "
                "The message is withheld because it may contain personal data; reproduce locally to see it."
            )
        ) from None
