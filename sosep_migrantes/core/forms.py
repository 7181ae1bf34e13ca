"""Bridge between HTML forms and marshmallow schemas.

A form posts flat names (``members-2-given_names``); :func:`form_to_data` turns them into the nested
dict the schema (the same one the JSON API uses) loads, and :func:`flatten_errors` turns the
schema's nested errors back into the flat names so each message is shown beside its field;
:func:`form_errors` does the same for a service's :class:`~.errors.ServiceError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, cast

from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from .errors import ServiceError

_ROW_KEY = re.compile(r"^(?P<list>[a-z_]+)-(?P<index>\d+)-(?P<field>[a-z_]+)$")


def form_to_data(
    form: MultiDict[str, str],
    *,
    multi: Iterable[str] = (),
    lists: Iterable[str] = (),
    skip: Iterable[str] = ("csrf_token",),
) -> dict[str, Any]:
    """Nested data from a flat form; empty inputs are left out so schema defaults apply.

    Rows of a list (``members-7-...``) are kept in the order they appear on the page and renumbered
    from 0, so removing a row in the browser leaves no gap.
    """
    multi, lists, skip = set(multi), set(lists), set(skip)
    data: dict[str, Any] = {name: [] for name in lists}
    rows: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in lists}
    for key in form:
        if key in skip:
            continue
        match = _ROW_KEY.match(key)
        if match and match["list"] in lists:
            row = rows[match["list"]].setdefault(match["index"], {})
            _put(row, match["field"], form, key, multi)
        else:
            _put(data, key, form, key, multi)
    for name, by_index in rows.items():
        data[name] = list(by_index.values())
    return data


def _put(target: dict[str, Any], field: str, form: MultiDict[str, str], key: str, multi: set[str]) -> None:
    if field in multi:
        target[field] = [v for v in form.getlist(key) if v.strip()]
        return
    value = form.get(key, "").strip()
    if value != "":
        target[field] = value


def flatten_errors(errors: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"members": {0: {"cui": ["..."]}}}`` -> ``{"members-0-cui": "..."}``.

    An error on an entry of a list of plain values, ``{"needs": {0: ["..."]}}``, is the list's: ``needs``.
    """
    flat: dict[str, str] = {}
    for key, value in errors.items():
        if isinstance(key, int) and prefix and not isinstance(value, Mapping):
            # An entry of a list of plain values (a member's second language, one need of a referral):
            # the form has one field for the list, so the message goes beside it.
            messages = value if isinstance(value, list) else [value]
            text = " ".join(str(m) for m in messages)
            if text not in flat.get(prefix, ""):
                flat[prefix] = f"{flat[prefix]} {text}" if prefix in flat else text
            continue
        name = f"{prefix}-{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            flat.update(flatten_errors(value, name))
        elif isinstance(value, list) and value and isinstance(value[0], Mapping):
            for index, item in enumerate(value):
                flat.update(flatten_errors(item, f"{name}-{index}"))
        else:
            messages = value if isinstance(value, list) else [value]
            flat[name] = " ".join(str(m) for m in messages)
    return flat


def form_errors(error: ValidationError | ServiceError) -> dict[str, str]:
    """The messages to show beside the form's fields, from the schema or from the service."""
    if isinstance(error, ValidationError):
        # A schema's load raises with its messages keyed by field (a dict, never a bare list).
        return flatten_errors(cast("dict[str, Any]", error.messages))
    return dict(error.errors)
