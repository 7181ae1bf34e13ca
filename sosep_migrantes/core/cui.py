"""CUI (Código Único de Identificación, the DPI number) checks.

A CUI has 13 digits: an 8-digit serial, a check digit, a 2-digit department and a 2-digit
municipality of birth. RENAP does not publish the check-digit rule; public validators use
``sum(serial[i] * (i + 2) for i in 0..7) % 11 == check``. Because the rule is unofficial, a
failing check digit is only a *warning* that staff may confirm; a wrong length or an impossible
department/municipality is an *error*.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

_SEPARATORS = re.compile(r"[\s-]")


@dataclass(frozen=True)
class CuiCheck:
    normalized: str
    error: str | None = None
    warning: str | None = None


def normalize_cui(value: str) -> str:
    """Drop the spaces and dashes people type ('2456 78901 0101')."""
    return _SEPARATORS.sub("", value or "")


def check_digit_ok(cui: str) -> bool:
    total = sum(int(cui[i]) * (i + 2) for i in range(8))
    return total % 11 == int(cui[8])


def check_cui(value: str, municipalities_per_department: Mapping[int, int]) -> CuiCheck:
    cui = normalize_cui(value)
    if not re.fullmatch(r"[0-9]{13}", cui):
        return CuiCheck(cui, error=str(_l("El CUI debe tener 13 dígitos.")))
    department, municipality = int(cui[9:11]), int(cui[11:13])
    if department not in municipalities_per_department:
        return CuiCheck(cui, error=str(_l("El CUI tiene un código de departamento inexistente (01 a 22).")))
    if not 1 <= municipality <= municipalities_per_department[department]:
        return CuiCheck(
            cui,
            error=str(
                _l(
                    "El CUI tiene un código de municipio inexistente para ese departamento (01 a %(n)02d).",
                    n=municipalities_per_department[department],
                )
            ),
        )
    if not check_digit_ok(cui):
        return CuiCheck(
            cui,
            warning=str(
                _l("El dígito verificador del CUI no coincide. Revise el número o confirme que es correcto.")
            ),
        )
    return CuiCheck(cui)
