"""Every shell variable the ops docs' commands use is defined in that document before it is used."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"^```(?:sh|bash)\n(.*?)^```", re.MULTILINE | re.DOTALL)
USE = re.compile(r"\$\{?([A-Z][A-Z0-9_]*)")
DEFINE = re.compile(r"(?:^|\s|export\s+|;\s*)([A-Z][A-Z0-9_]*)=", re.MULTILINE)


def undefined(text: str) -> list[str]:
    defined: set[str] = set()
    missing = []
    for block in BLOCK.findall(text):
        for line in block.splitlines():
            code = line.split("  #", 1)[0]
            defined |= set(DEFINE.findall(code))  # assignments on this line count for its uses too
            missing += [name for name in USE.findall(code) if name not in defined]
    return missing


@pytest.mark.parametrize("name", ["deploy.md", "operations.md"])
def test_every_variable_a_command_uses_is_defined_first(name):
    assert undefined((DOCS / name).read_text()) == []


def test_the_check_finds_an_undefined_variable():
    assert undefined("```sh\nSTAGE=dev\necho $STAGE $REGION\n```\n") == ["REGION"]
