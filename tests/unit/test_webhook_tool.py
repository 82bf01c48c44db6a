"""tools.webhook finds the store as the README's tour does, and says so when nothing answers there."""
from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from tools.webhook import store_url


def test_the_store_is_where_shelf_says():
    assert store_url({"SHELF": "http://127.0.0.1:8123/", "PORT": "9000"}) == "http://127.0.0.1:8123"
    assert store_url({"SHELF_URL": "http://h:1"}) == "http://h:1"
    assert store_url({"PORT": "8124"}) == "http://127.0.0.1:8124"
    assert store_url({}) == "http://127.0.0.1:8000"


def test_nothing_listening_is_one_line_not_a_traceback(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = subprocess.run([sys.executable, "-m", "tools.webhook", "stripe", "payment_intent.succeeded", "ord_x"],
                            capture_output=True, text=True, timeout=60,
                            env={"SHELF": f"http://127.0.0.1:{port}", "PATH": "/usr/bin:/bin"},
                            cwd=str(Path(__file__).resolve().parents[2]))

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"http://127.0.0.1:{port}" in result.stderr
