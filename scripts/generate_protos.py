"""Regenerate the Python bindings and typed stubs of the farebridge contract.

Run ``python scripts/generate_protos.py`` after editing any ``.proto`` file, or
``python scripts/generate_protos.py --check`` to fail when the committed
bindings are not exactly what the committed protos generate (CI runs this).
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
PACKAGE_DIR = PROTO_ROOT / "farebridge" / "v1"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")


def generate(out_dir: Path) -> None:
    """Runs protoc over every proto file, writing bindings below ``out_dir``."""
    sources = sorted(str(p.relative_to(PROTO_ROOT)) for p in PACKAGE_DIR.glob("*.proto"))
    include = str(Path(protoc.__file__).parent / "_proto")
    plugins = Path(sys.executable).parent  # mypy-protobuf installs its plugins beside python
    args = [
        "protoc",
        f"--plugin=protoc-gen-mypy={plugins / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={plugins / 'protoc-gen-mypy_grpc'}",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--mypy_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--mypy_grpc_out={out_dir}",
        *sources,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")


def generated_files(directory: Path) -> dict[str, Path]:
    return {p.name: p for p in directory.iterdir() if p.name.endswith(GENERATED_SUFFIXES)}


def check() -> int:
    """Compares a fresh generation with the committed files; 1 on drift."""
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        fresh = generated_files(Path(tmp) / "farebridge" / "v1")
        committed = generated_files(PACKAGE_DIR)
        drift = sorted(set(fresh) ^ set(committed))
        drift += sorted(
            name
            for name in set(fresh) & set(committed)
            if not filecmp.cmp(fresh[name], committed[name], shallow=False)
        )
    if drift:
        print("generated bindings are stale; run scripts/generate_protos.py:", *drift, sep="\n  ")
        return 1
    print(f"generated bindings match the protos ({len(committed)} files)")
    return 0


def write() -> int:
    for stale in generated_files(PACKAGE_DIR).values():
        stale.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        for name, path in generated_files(Path(tmp) / "farebridge" / "v1").items():
            shutil.copyfile(path, PACKAGE_DIR / name)
    print(f"wrote bindings to {PACKAGE_DIR.relative_to(ROOT)}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the bindings drifted")
    return check() if parser.parse_args().check else write()


if __name__ == "__main__":
    sys.exit(main())
