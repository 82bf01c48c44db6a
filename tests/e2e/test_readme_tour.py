"""The README's tour runs as written, top to bottom, against `python -m local` (what `make run` starts) on a
random port that is not the default: every shell block after the one that starts the store, in one bash.

Also: docs/api.md is what the running store's /openapi.json says (tools.apidoc), and the deploy's smoke
check passes against it."""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tools import apidoc, deploy

REPO_ROOT = Path(__file__).resolve().parents[2]
README = REPO_ROOT / "README.md"
KEY = "sk_tour_key"


def tour_blocks(text: str) -> list[str]:
    """The ```sh blocks of the README's "A tour of the API" section, in order."""
    section = text.split("## A tour of the API", 1)[1]
    section = re.split(r"^## ", section, maxsplit=1, flags=re.MULTILINE)[0]
    return re.findall(r"^```sh\n(.*?)^```", section, flags=re.MULTILINE | re.DOTALL)


def _free_port() -> int:
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port != 8000:
            return port


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


@pytest.fixture(scope="module")
def store():
    """`SHELF_ADMIN_API_KEY=sk_tour_key make run`, as the tour's first block says, with PORT set."""
    blocks = tour_blocks(README.read_text())
    assert blocks[0].strip() == f"SHELF_ADMIN_API_KEY={KEY} make run", "the tour starts the store this way"
    port = _free_port()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
           "PORT": str(port), "SHELF_ADMIN_API_KEY": KEY, "PYTHONUNBUFFERED": "1",
           # As the rest of the e2e suite: the functions held to the template's IAM policies.
           "SHELF_LOCAL_IAM": os.environ.get("SHELF_LOCAL_IAM") or "enforce"}
    process = subprocess.Popen([sys.executable, "-m", "local"], cwd=REPO_ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
    while True:
        try:
            _get(f"{url}/health")
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"the store did not start: {process.stdout.read()}")
            time.sleep(0.5)
    yield port, url
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def test_the_tour_runs_as_written_on_a_port_that_is_not_the_default(store, tmp_path):
    port, _ = store
    checkout = REPO_ROOT / "checkout.json"
    had_checkout = checkout.exists()
    script = "\n".join(tour_blocks(README.read_text())[1:])
    env = {"PATH": f"{REPO_ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
           "HOME": os.environ.get("HOME", "/tmp"), "PORT": str(port)}
    try:
        result = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=REPO_ROOT, env=env,
                                capture_output=True, text=True, timeout=400)
    finally:
        if not had_checkout:
            checkout.unlink(missing_ok=True)

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output and "Connection refused" not in output, output
    lines = result.stdout.splitlines()
    assert result.stdout.startswith('{"status": "ok"}'), "GET /health first"
    for status in ("paid", "shipped"):
        assert status in lines, f"the order became {status}: {output}"
    assert "refunded" in lines, output
    # (bash -e: tools.webhook exits non-zero when its webhook is refused)
    assert '202 {"received": true}' in result.stdout, "the warehouse's webhook was accepted"
    assert '"validation_error"' in output, "the last block shows a problem"


def test_the_tour_names_the_cursor_parameter():
    script = "\n".join(tour_blocks(README.read_text()))
    assert "cursor=$NEXT" in script and "export SHELF=http://127.0.0.1:${PORT:-8000}" in script


def test_the_readme_never_links_outside_the_repository():
    text = README.read_text()
    targets = re.findall(r"\]\(([^)]+)\)", text)
    for target in targets:
        if target.startswith("http://127.0.0.1"):
            continue  # the local stack's own pages
        assert "://" not in target and not target.startswith(("../", "/")), target
        assert (REPO_ROOT / target.split("#", 1)[0]).exists(), target


def test_docs_api_is_what_the_running_store_serves(store):
    _, url = store
    served = json.loads(_get(f"{url}/openapi.json"))

    assert apidoc.render(served) == (REPO_ROOT / "docs" / "api.md").read_text(), \
        "docs/api.md is stale: run `python -m tools.apidoc`"


def test_the_deploys_smoke_check_passes_on_a_store_and_fails_elsewhere(store):
    _, url = store
    lines: list[str] = []

    deploy.smoke_check(url, out=lines.append)

    assert lines == ["GET /health: ok", "GET /openapi.json: ok"]
    with pytest.raises(deploy.DeployError, match="/health"):
        deploy.smoke_check(f"http://127.0.0.1:{_free_port()}", timeout=0, out=lines.append)
