"""tools.bytecode puts an unchecked-hash .pyc beside every module of a function zip, and Python loads it
from the unpacked zip instead of compiling the source."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from importlib.util import cache_from_source

from tools.bytecode import compile_zip


def _zip(path, files: dict[str, str]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)


def test_every_module_gets_an_unchecked_pyc_and_stale_caches_go(tmp_path):
    zipped = tmp_path / "deployment.zip"
    stale = cache_from_source("chalicelib/old.py").replace("old", "gone")
    _zip(zipped, {"app.py": "VALUE = 1\n", "chalicelib/__init__.py": "", "chalicelib/data.json": "{}",
                  stale: "not bytecode"})
    assert compile_zip(zipped) == 2
    with zipfile.ZipFile(zipped) as archive:
        names = set(archive.namelist())
        pyc = archive.read(cache_from_source("app.py"))
    assert {"app.py", "chalicelib/__init__.py", "chalicelib/data.json", cache_from_source("app.py"),
            cache_from_source("chalicelib/__init__.py")} == names
    assert int.from_bytes(pyc[4:8], "little") == 0b01, "hash-based, source never checked"


def test_the_unpacked_zip_imports_its_bytecode_without_compiling(tmp_path):
    zipped, task = tmp_path / "deployment.zip", tmp_path / "task"
    _zip(zipped, {"app.py": "VALUE = 'compiled'\n"})
    compile_zip(zipped)
    with zipfile.ZipFile(zipped) as archive:
        archive.extractall(task)
    (task / "app.py").write_text("VALUE = 'source'\n")  # had Python compiled the source, this is what it would see
    out = subprocess.run([sys.executable, "-S", "-c", "import app; print(app.VALUE)"], cwd=task, text=True,
                         capture_output=True, check=True, env={"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(task)})
    assert out.stdout.strip() == "compiled"
