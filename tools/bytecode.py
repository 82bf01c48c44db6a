"""Compiled bytecode for a Lambda function zip.

`chalice package` zips sources only. Lambda unpacks the zip on a read-only file system, so without `.pyc`
every cold start compiles every module it imports and cannot keep the result. This adds, beside every `.py`,
the `__pycache__/*.pyc` of the interpreter that built the package (the function's runtime), in the
unchecked-hash form: the zip is immutable, so Python loads it without looking at the source's timestamp
(which a zip keeps only to two seconds, and without a time zone).

    python -m tools.bytecode dist/dev/deployment.zip                  # after `chalice package dist/dev`
    python -m tools.bytecode dist/dev/layer-deployment.zip /opt       # the layer's, unpacked at /opt

`make deploy` compiles the zips `chalice deploy` uploads with the same function (tools/chalice_deploy.py).
"""
from __future__ import annotations

import compileall
import json
import os
import py_compile
import sys
import tempfile
import zipfile
from pathlib import Path

LAMBDA_TASK_ROOT = "/var/task"


def runtime_of(package_dir: Path) -> str | None:
    """The Python runtime `chalice package` wrote into its template, if there is one beside the zip."""
    for name in ("sam.json", "chalice.tf.json"):
        path = package_dir / name
        if path.exists():
            text = path.read_text()
            for runtime in {f"python3.{minor}" for minor in range(8, 20)}:
                if f'"{runtime}"' in text:
                    return runtime
    return None


def compile_zip(zip_path: Path, root: str = LAMBDA_TASK_ROOT, runtime: str | None = None) -> int:
    """Rewrites the zip with a `.pyc` for every `.py`; returns how many it holds afterwards. `root` is where
    Lambda unpacks it (/var/task for a function, /opt for a layer), named in tracebacks. `runtime` is the
    Lambda runtime it is for (e.g. python3.11); by default, the one in the template beside the zip."""
    zip_path = Path(zip_path)
    runtime = runtime or runtime_of(zip_path.parent)
    ours = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if runtime and runtime != ours:
        raise SystemExit(f"the package targets {runtime} but this is {ours}: its .pyc would never be used")
    with tempfile.TemporaryDirectory() as tmp:
        task = Path(tmp, "task")
        with zipfile.ZipFile(zip_path) as archive:
            modes = {info.filename: info.external_attr for info in archive.infolist()}
            archive.extractall(task)
        for stale in task.rglob("*.pyc"):  # a developer's timestamped caches, never valid in Lambda
            stale.unlink()
        compileall.compile_dir(task, ddir=root, quiet=2, workers=1,
                               invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        rebuilt = zip_path.with_suffix(".tmp.zip")
        count = 0
        with zipfile.ZipFile(rebuilt, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(p for p in task.rglob("*") if p.is_file()):
                name = path.relative_to(task).as_posix()
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = modes.get(name, 0o644 << 16)
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
                count += name.endswith(".pyc")
        os.replace(rebuilt, zip_path)
    return count


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        print("usage: python -m tools.bytecode ZIP [ROOT]", file=sys.stderr)
        return 2
    print(json.dumps({"zip": argv[0], ".pyc files": compile_zip(Path(argv[0]), *argv[1:])}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
