"""Views at the domain boundary, the one convention of every service: the domain builds
frozen view dataclasses from its rows (`copy_fields`), the API maps views to its msgspec
bodies (`Out.of`). Both copy by field name, so a view or a body that drifts from what it
is built from fails at once instead of sending a field nobody set.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Self, TypeVar

import msgspec

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

View = TypeVar("View", bound="DataclassInstance")


def copy_fields(view_type: type[View], source: object, **given: Any) -> View:
    """A `view_type` whose fields are read from `source`'s attributes of the same names,
    but for those `given`."""
    copied = {
        field.name: getattr(source, field.name)
        for field in dataclasses.fields(view_type)
        if field.name not in given
    }
    return view_type(**copied, **given)


class Out(msgspec.Struct):
    """A response body built from a domain view."""

    @classmethod
    def of(cls, view: object) -> Self:
        """Each field read from the view's attribute of the same name (a nested body from
        a nested view); a field the view lacks keeps its default."""
        return msgspec.convert(view, cls, from_attributes=True)
