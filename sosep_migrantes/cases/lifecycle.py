"""The hook through which a case's status and follow-up dates are kept after anything happens to it.

A case's status follows from events recorded by several modules: referrals (cases < referrals), follow-ups,
linkage and closures (followup, above them all). One function decides it, ``followup.services.refresh_case``;
it lives above every module it reads, so the modules below cannot import it. They call :func:`case_changed`
instead, and ``followup`` registers its function here when it is imported (``create_app`` imports every
module), the same way the case page's parts are added (``cases.views.case_page_part``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..auth.models import User
    from .models import FamilyUnit

Refresher = Callable[["FamilyUnit", "User"], None]
_REFRESHERS: list[Refresher] = []


def on_case_changed(refresher: Refresher) -> Refresher:
    """Decorator: call ``refresher(family, user)`` whenever a case's events change."""
    if refresher not in _REFRESHERS:
        _REFRESHERS.append(refresher)
    return refresher


def case_changed(family: FamilyUnit, user: User) -> None:
    """Something happened to the case (registered, edited, referred, ...): recompute what follows from it."""
    for refresher in _REFRESHERS:
        refresher(family, user)
