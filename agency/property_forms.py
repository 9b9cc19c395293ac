"""What a property's form accepts: its allowed types, PropertyInput, the address key that quick search and
lead de-duplication compare, and FieldError for a value the records refuse."""

from __future__ import annotations

import re
from decimal import Decimal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from crm_core.forms import blank_to_none

PROPERTY_TYPES = ("flat", "room", "house", "townhouse", "land", "office", "retail", "warehouse", "garage", "other")
DEAL_TYPES = ("sale", "rent")
LIQUIDITY = ("high", "medium", "low")


def address_key(address: str) -> str:
    """Lower-cased, ё→е, one space between words: what quick search and lead de-duplication compare."""
    text = address.lower().replace("ё", "е")
    text = re.sub(r"[\s,]+", " ", text)
    return text.strip()[:500]


class PropertyInput(BaseModel):
    address: str = Field(min_length=3, max_length=500)
    district: str | None = Field(default=None, max_length=200)
    metro: str | None = Field(default=None, max_length=200)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    property_type: str | None = None
    deal_type: str | None = None
    price: Decimal | None = Field(default=None, ge=0, lt=Decimal("1e12"), decimal_places=2)
    liquidity: str | None = None
    owner_client_id: int | None = None
    agent_id: int | None = None
    avito_item_id: str | None = Field(default=None, max_length=40)  # the listing's number on Avito

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_none(cls, v: object) -> object:
        v = blank_to_none(v)
        return v.strip() if isinstance(v, str) else v

    @field_validator("price", mode="before")
    @classmethod
    def _price_text(cls, v: object) -> object:
        if isinstance(v, str):
            return re.sub(r"[\s\u00a0]", "", v).replace(",", ".")
        return v

    @field_validator("property_type")
    @classmethod
    def _type(cls, v: str | None) -> str | None:
        if v is not None and v not in PROPERTY_TYPES:
            raise ValueError(f"unknown property type; one of {', '.join(PROPERTY_TYPES)}")
        return v

    @field_validator("deal_type")
    @classmethod
    def _deal(cls, v: str | None) -> str | None:
        if v is not None and v not in DEAL_TYPES:
            raise ValueError("deal type is sale or rent")
        return v

    @field_validator("liquidity")
    @classmethod
    def _liquidity(cls, v: str | None) -> str | None:
        if v is not None and v not in LIQUIDITY:
            raise ValueError("liquidity is high, medium or low")
        return v

    @field_validator("avito_item_id")
    @classmethod
    def _avito(cls, v: str | None) -> str | None:
        if v is not None and not v.isdigit():
            raise ValueError("номер объявления Avito — только цифры / the Avito listing number is digits only")
        return v

    @model_validator(mode="after")
    def _both_coordinates(self) -> PropertyInput:
        if (self.lat is None) != (self.lon is None):
            raise PydanticCustomError("coordinates", "give both latitude and longitude, or neither")
        return self


class FieldError(ValueError):
    """A value that passed the form's checks but not the records' (an owner out of reach, a foreign agent)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
