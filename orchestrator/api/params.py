"""Path and query parameters shared by the routers, bounded to what the database can hold.

Ids and result cursors are 64-bit integers in the database (BIGINT; SQLite's INTEGER): a larger
number cannot name anything, and handing one to the driver raised ``OverflowError`` (a 500).
Bounding them in the signature makes it a 422 and documents the range in the OpenAPI schema.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

INT64_MAX = 2**63 - 1

SweepId = Annotated[int, Path(ge=1, le=INT64_MAX, description="a sweep's id")]
TrialId = Annotated[int, Path(ge=1, le=INT64_MAX, description="a trial's id")]
