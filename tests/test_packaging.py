"""A non-editable install serves pages and stylesheets on its own, outside the checkout.

templates/, static/, content/ and seed/ sit at the repository root; the wheel carries them as
package data (``app/bundle/``). This installs the project for real (``pip install .``, without
dependencies: they come from the running environment) into a folder outside the checkout and
serves from there, in a process that cannot see the checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SERVE = r"""
import json, sys, tempfile
from pathlib import Path
import app
from app import create_app

data = Path(tempfile.mkdtemp())
application = create_app({"TESTING": True, "KB_DATA_DIR": str(data)})
runner = application.test_cli_runner()
init = runner.invoke(args=["kb", "init", "--no-admin"])
client = application.test_client()
page = client.get("/policies/refunds")
css = client.get("/static/css/site.css")
print(json.dumps({
    "package": app.__file__, "templates": application.template_folder,
    "init": init.exit_code, "init_output": init.output,
    "page": page.status_code, "has_title": b"<title>" in page.data,
    "css": css.status_code, "css_type": css.mimetype, "css_bytes": len(css.data),
}))
"""


@pytest.mark.slow
def test_a_non_editable_install_serves_a_page_and_its_stylesheet(tmp_path):
    source = tmp_path / "source"  # a copy: the build leaves build/ and egg-info behind
    for name in ("app", "templates", "static", "content", "seed", "pyproject.toml"):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, source / name, **({"ignore": shutil.ignore_patterns(
            "__pycache__")} if (ROOT / name).is_dir() else {}))
    target = tmp_path / "site-packages"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--target", str(target), str(source)],
                   check=True, capture_output=True, timeout=300)
    assert (target / "app" / "bundle" / "templates" / "base.html").is_file()
    assert (target / "app" / "bundle" / "static" / "css" / "site.css").is_file()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    # -S: no site-packages of this environment, so the checkout's editable install cannot
    # answer; the dependencies come from the environment's site-packages, listed after ours.
    deps = [p for p in sys.path if p.endswith("site-packages")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), *deps])}
    env.pop("KB_DATA_DIR", None)
    env.pop("KB_CONTENT_DIR", None)
    out = subprocess.run([sys.executable, "-S", "-c", SERVE], cwd=outside, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["package"].startswith(str(target)), got
    assert got["templates"].startswith(str(target)), got
    assert got["init"] == 0, got["init_output"]
    assert got["page"] == 200 and got["has_title"]
    assert got["css"] == 200 and got["css_type"] == "text/css" and got["css_bytes"] > 1000
