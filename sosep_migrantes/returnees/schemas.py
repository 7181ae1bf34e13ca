"""Input schemas of the returnee decisions (form and API)."""

from __future__ import annotations

from ..core.schema import InputSchema, integer


class DecisionSchema(InputSchema):
    """Link a member to an earlier record of the same person, or dismiss that record."""

    member_id = integer(required=True)
    earlier_member_id = integer(required=True)
