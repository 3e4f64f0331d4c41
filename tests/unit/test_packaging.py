"""A wheel, not only the checkout, runs: templates and migrations travel inside it (issue 11)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_holds_every_module_and_template_and_runs_from_elsewhere(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path / "dist"), str(ROOT)], check=True, capture_output=True, timeout=300)
    wheel = next((tmp_path / "dist").glob("*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("gateway", "parsers", "storage"):
        for source in (ROOT / folder).rglob("*.py"):
            assert str(source.relative_to(ROOT)) in names, f"{source.relative_to(ROOT)} is not in the wheel"
    for template in (ROOT / "templates").glob("*.j2"):
        assert f"gateway/templates/{template.name}" in names

    installed = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(installed)
    run = tmp_path / "elsewhere"
    run.mkdir()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}, "PYTHONPATH": str(installed),
           "GATEWAY_DATABASE_URL": f"sqlite:///{run / 'gateway.db'}"}
    code = ("import gateway.config, gateway.outbox.render;"
            "t = gateway.config.TEMPLATES; print(t);"
            "print(gateway.outbox.render.Renderer(t, 'Bean Store').page('accept_error', title='Gone', message='gone'))")
    shown = subprocess.run([sys.executable, "-c", code], cwd=run, env=env, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(str(installed / "gateway" / "templates")) and "<h1" in shown.stdout
    upgraded = subprocess.run([sys.executable, "-m", "gateway", "db", "upgrade"], cwd=run, env=env,
                              capture_output=True, text=True, timeout=60)
    assert upgraded.returncode == 0, upgraded.stderr
