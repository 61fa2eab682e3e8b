"""The record schema of the shipped synthetic claims extract.

Used by the quickstart (`--schema examples.claims.model:Claim`) and the
benchmarks; the constraints are the ones a payer's intake job checks.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class ClaimStatus(str, Enum):
    """Adjudication state of a claim."""

    PAID = "PAID"
    DENIED = "DENIED"
    PENDING = "PENDING"


class Claim(BaseModel):
    """One professional claim line (synthetic; no real person)."""

    model_config = ConfigDict(extra="forbid")

    claim_id: Annotated[str, Field(pattern=r"^CLM[0-9]{8}$")]
    member_id: Annotated[str, Field(pattern=r"^M[0-9]{9}$")]
    npi: Annotated[str, Field(pattern=r"^[0-9]{10}$")]
    procedure_code: Annotated[str, Field(pattern=r"^[0-9]{5}$")]
    diagnosis_code: Annotated[str, Field(pattern=r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$")]
    service_date: date
    units: Annotated[int, Field(ge=1, le=99)]
    amount: Annotated[Decimal, Field(ge=0, le=1_000_000, max_digits=12, decimal_places=2)]
    status: ClaimStatus
    plan_code: Annotated[str | None, Field(default=None, max_length=12)]
