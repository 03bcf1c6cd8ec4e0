"""`make protos`: the Python stubs of proto/parley into libs/proto/src/parley_proto, and
`--check` (in `make lint`) fails when the committed stubs differ from what the .proto
files generate now.

protoc names a generated module after its .proto path (`parley/chat/v1/chat.proto` is
`parley.chat.v1.chat_pb2`), and Parley's import names carry the `parley_` prefix so that
nothing collides (STYLE.md); the imports between generated modules are rewritten to
`parley_proto.` here rather than moving the .proto files, whose paths buf ties to their
packages. The .pyi files come from mypy-protobuf, so mypy --strict checks the callers.
"""

from __future__ import annotations

import argparse
import filecmp
import re
import shutil
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTOS = ROOT / "proto"
PACKAGE = ROOT / "libs" / "proto" / "src" / "parley_proto"
HEADER = '"""Generated gRPC stubs of proto/parley (`make protos`); edit the .proto files."""\n'
_IMPORT = re.compile(r"^(from|import) parley\.", re.MULTILINE)


def generate(into: Path) -> None:
    """Write the package `parley_proto` (stubs, .pyi, __init__ and py.typed) into `into`."""
    sources = sorted(str(path.relative_to(PROTOS)) for path in PROTOS.rglob("*.proto"))
    bin_dir = Path(sys.executable).parent
    well_known = resources.files("grpc_tools") / "_proto"
    with tempfile.TemporaryDirectory() as raw:
        out = Path(raw)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                f"-I{PROTOS}",
                f"-I{well_known}",
                f"--plugin=protoc-gen-mypy={bin_dir / 'protoc-gen-mypy'}",
                f"--plugin=protoc-gen-mypy_grpc={bin_dir / 'protoc-gen-mypy_grpc'}",
                f"--python_out={out}",
                f"--grpc_python_out={out}",
                f"--mypy_out={out}",
                f"--mypy_grpc_out={out}",
                *sources,
            ],
            check=True,
            cwd=PROTOS,
        )
        target = into / "parley_proto"
        target.mkdir(parents=True, exist_ok=True)
        (target / "__init__.py").write_text(HEADER)
        (target / "py.typed").write_text("")
        for path in sorted((out / "parley").rglob("*")):
            relative = path.relative_to(out / "parley")
            if path.is_dir():
                (target / relative).mkdir(parents=True, exist_ok=True)
                (target / relative / "__init__.py").write_text("")
                continue
            text = _IMPORT.sub(r"\1 parley_proto.", path.read_text())
            (target / relative).write_text(text)


def _differences(left: Path, right: Path) -> list[str]:
    compared = filecmp.dircmp(left, right)
    found = [f"{right / name}" for name in compared.left_only + compared.right_only]
    found += [f"{right / name}" for name in compared.diff_files]
    for name in compared.common_dirs:
        found += _differences(left / name, right / name)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args()
    if not args.check:
        shutil.rmtree(PACKAGE, ignore_errors=True)
        generate(PACKAGE.parent)
        return 0
    with tempfile.TemporaryDirectory() as raw:
        generate(Path(raw))
        drift = _differences(Path(raw) / "parley_proto", PACKAGE)
    drift = [name for name in drift if "__pycache__" not in name]
    for name in drift:
        print(f"stale generated stub: {name}", file=sys.stderr)
    if drift:
        print("run `make protos` and commit the result", file=sys.stderr)
    return 1 if drift else 0


if __name__ == "__main__":
    sys.exit(main())
