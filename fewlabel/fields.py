"""The building blocks of config sections: a frozen section model and strict, bounded field types.

Strict types: a boolean is not a number (``vector_size: true`` is an error, not 1), a string is not a
number; an integer is accepted where a float is expected, and a float is finite (``.inf`` and ``.nan``
are refused). Upper bounds keep a typo from exhausting memory.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Gt, Le
from pydantic import AllowInfNan, BaseModel, ConfigDict, Strict, StrictBool

Int = Annotated[int, Strict()]
PositiveInt = Annotated[int, Strict(), Gt(0)]
Float = Annotated[float, Strict(), AllowInfNan(False)]
Bool = StrictBool
SEED_MAX = 2**32 - 1  # numpy's seeds
Seed = Annotated[int, Strict(), Ge(0), Le(SEED_MAX)]


class Section(BaseModel):
    """A config section: unknown keys are refused, and it never changes once made."""

    model_config = ConfigDict(extra="forbid", frozen=True)
