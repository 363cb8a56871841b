#!/usr/bin/python3
"""Builds the asr_client Python package into OUT/asr_client: the package's
sources, and gRPC stubs generated from proto/ (protoc + grpc_python_plugin)
under asr_client/_pb, their imports rewritten to that prefix so that they
never collide with other packages (grpcio's own `grpc` among them).

  build_package.py --proto-root proto --src client/python/asr_client --out build/python
"""
import argparse
import pathlib
import re
import shutil
import subprocess
import sys

PROTOS = [
    "asr/v1/info.proto",
    "asr/v1/training.proto",
    "asr/v1/recognition.proto",
    "grpc/health/v1/health.proto",
    "grpc/reflection/v1alpha/reflection.proto",
]
# Top-level proto packages whose generated modules move under asr_client._pb.
MOVED = ("asr", "grpc.health", "grpc.reflection")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--proto-root", required=True)
    p.add_argument("--src", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--protoc", default="protoc")
    p.add_argument("--plugin", default="grpc_python_plugin")
    a = p.parse_args()
    pkg = pathlib.Path(a.out) / "asr_client"
    gen = pkg / "_pb"
    shutil.rmtree(pkg, ignore_errors=True)
    shutil.copytree(a.src, pkg, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    gen.mkdir(parents=True)
    r = subprocess.run([a.protoc, f"--proto_path={a.proto_root}", f"--python_out={gen}", f"--grpc_python_out={gen}",
                        f"--plugin=protoc-gen-grpc_python={shutil.which(a.plugin) or a.plugin}"] + PROTOS)
    if r.returncode != 0:
        return r.returncode
    moved = "|".join(re.escape(m) for m in MOVED)
    pattern = re.compile(rf"^(from|import) ({moved})(\.| )", re.M)
    for f in gen.rglob("*.py"):
        f.write_text(pattern.sub(r"\1 asr_client._pb.\2\3", f.read_text()))
    for d in [gen, *(d for d in gen.rglob("*") if d.is_dir())]:
        (d / "__init__.py").touch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
