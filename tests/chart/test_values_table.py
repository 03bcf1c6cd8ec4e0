"""Each chart's README has a values table generated from values.yaml (`make chart-docs`),
and it never drifts: a changed `# --` comment or default makes the committed table stale."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import charts

SCRIPT = Path(__file__).parent / "values_table.py"


def check(*charts_to_check: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, SCRIPT, "--check", *charts_to_check],
        capture_output=True,
        text=True,
        check=False,
    )


def test_every_charts_readme_table_matches_its_values() -> None:
    result = check()
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("chart", charts.chart_names())
def test_every_documented_value_has_a_row_with_its_default(chart: str) -> None:
    readme = (charts.CHARTS / chart / "README.md").read_text()
    assert "| Key | Type | Default | Description |" in readme
    if chart == "parley":
        assert "| httpRoute.websocketTimeoutSeconds | int | `3600` |" in readme
        assert '| externalDatabase.passwordSecretKey | string | `"password"` |' in readme


def test_a_changed_comment_or_default_makes_the_table_stale(tmp_path: Path) -> None:
    copy = tmp_path / "parley"
    shutil.copytree(charts.CHARTS / "parley", copy)
    values = copy / "values.yaml"
    values.write_text(
        values.read_text().replace("websocketTimeoutSeconds: 3600", "websocketTimeoutSeconds: 60")
    )
    stale = check(copy)
    assert stale.returncode == 1
    assert "make chart-docs" in stale.stdout
    subprocess.run([sys.executable, SCRIPT, copy], check=True)
    assert check(copy).returncode == 0
    assert "| httpRoute.websocketTimeoutSeconds | int | `60` |" in (copy / "README.md").read_text()
