"""What a deal's forms accept: the step and result-directory inputs, their allowed values, and DealError,
the refusal named by its form field that every deal, directory, cold-call and control write raises."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, field_validator

from crm_core.forms import blank_to_none

STEP_KINDS = ("viewing", "contract", "action")
RESULT_SCOPES = ("any", "action", "viewing", "contract", "call")


class DealError(ValueError):
    """A value the records refuse, named by its form field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class ResultInput(BaseModel):
    name: str = Field(min_length=1, max_length=150)
    applies_to: str = "any"
    positive: bool = False
    active: bool = True

    @field_validator("name", mode="before")
    @classmethod
    def _trim(cls, v: object) -> object:
        return " ".join(v.split()) if isinstance(v, str) else v

    @field_validator("applies_to")
    @classmethod
    def _scope(cls, v: str) -> str:
        if v not in RESULT_SCOPES:
            raise ValueError(f"one of {', '.join(RESULT_SCOPES)}")
        return v



class StepInput(BaseModel):
    kind: str
    at: datetime
    planned: bool = False
    property_id: int | None = None
    result_id: int | None = None
    agent_id: int | None = None
    note: str | None = Field(default=None, max_length=5000)

    @field_validator("property_id", "result_id", "agent_id", "note", mode="before")
    @classmethod
    def _blank(cls, v: object) -> object:
        return blank_to_none(v)

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        if v not in STEP_KINDS:
            raise ValueError("viewing, contract or action")
        return v

    @field_validator("at")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("the date needs a time zone")
        return v
