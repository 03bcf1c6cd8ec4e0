"""The parley chart's install matrix and its default render: what the suites in
tests/chart/test_parley_chart*.py share."""

from __future__ import annotations

from support import charts

PARLEY = charts.cases("parley")
EVERY_CASE = charts.cases("parley") + charts.cases("parley-operator")
SERVICES = ("auth", "chat")


def by_id(case: charts.Case) -> str:
    return case.id


def default() -> list[charts.Manifest]:
    return charts.template("parley")
