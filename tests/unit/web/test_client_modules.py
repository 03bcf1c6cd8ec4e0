"""The web client's modules without a DOM (the session's shared refresh, the timeline's
dedupe by seq, what reaction frames do to a message), run by node's own test runner:
client.test.mjs beside this file. Without node the test skips, or fails under
PARLEY_REQUIRE_SERVICES=1."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from support import services

HERE = Path(__file__).resolve().parent


def test_the_client_modules_pass_their_node_tests() -> None:
    node = shutil.which("node")
    if node is None:
        services.unavailable("Node.js", "node is not on PATH")
    done = subprocess.run(
        [node, "--test", str(HERE / "client.test.mjs")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "# pass 7" in done.stdout, done.stdout
