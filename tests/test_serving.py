"""gunicorn settings for `make serve`: loopback by default, workers from the CPU count."""

import multiprocessing
import runpy
from pathlib import Path

import pytest

CONF = Path(__file__).resolve().parent.parent / "gunicorn.conf.py"


def load(monkeypatch, **env):
    for name in ("KB_BIND", "KB_WORKERS", "KB_THREADS", "KB_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONF))


def test_defaults(monkeypatch):
    conf = load(monkeypatch)
    assert conf["bind"] == "127.0.0.1:8000"
    assert conf["workers"] == multiprocessing.cpu_count() * 2 + 1
    assert conf["worker_class"] == "gthread" and conf["threads"] == 2
    assert conf["accesslog"] == "-" and "pid=" in conf["access_log_format"]
    assert conf["pidfile"] == "instance/gunicorn.pid"
    assert conf["control_socket"] == "instance/gunicorn.ctl"


def test_overrides(monkeypatch, tmp_path):
    conf = load(monkeypatch, KB_BIND="127.0.0.1:9000", KB_WORKERS="3", KB_THREADS="4",
                KB_DATA_DIR=str(tmp_path))
    assert (conf["bind"], conf["workers"], conf["threads"]) == ("127.0.0.1:9000", 3, 4)
    assert conf["pidfile"] == str(tmp_path / "gunicorn.pid")


@pytest.mark.parametrize("target", ["serve", "bench", "test"])
def test_make_targets_exist(target):
    makefile = (CONF.parent / "Makefile").read_text()
    assert f"\n{target}:" in makefile
