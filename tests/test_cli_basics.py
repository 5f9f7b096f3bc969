"""The command's version, the Chinese-font check of ``make demo`` and its port."""
from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version

from tests.conftest import ROOT


def test_version(cli):
    done = cli("--version")
    assert done.exit_code == 0
    assert done.output.strip() == f"lantian {version('lantian')}"


def _fonts(tmp_path, listing: str | None):
    """``python -m lantian.fonts`` with a fake ``fc-list`` printing ``listing`` (None: no
    fontconfig at all)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if listing is not None:
        fake = bin_dir / "fc-list"
        fake.write_text("#!/bin/sh\nprintf '%s' " + repr(listing) + "\n")
        fake.chmod(0o755)
    env = {**os.environ, "PATH": str(bin_dir)}
    return subprocess.run([sys.executable, "-m", "lantian.fonts"], env=env,
                          capture_output=True, text=True)


def test_font_check_says_how_to_install_a_font_when_none_covers_chinese(tmp_path):
    done = _fonts(tmp_path, "")
    assert done.returncode == 1
    assert "fonts-wqy-microhei" in done.stderr and "boxes" in done.stderr


def test_font_check_names_the_font_it_found(tmp_path):
    done = _fonts(tmp_path, "WenQuanYi Micro Hei\n")
    assert done.returncode == 0 and "WenQuanYi Micro Hei" in done.stdout


def test_font_check_without_fontconfig_only_notes_it(tmp_path):
    done = _fonts(tmp_path, None)
    assert done.returncode == 0 and "skipped" in done.stdout


def test_make_demo_port_is_settable():
    done = subprocess.run(["make", "-n", "demo", "PORT=8060"], cwd=ROOT, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    assert "--port 8060" in done.stdout and "127.0.0.1:8060/login" in done.stdout
    default = subprocess.run(["make", "-n", "demo"], cwd=ROOT, capture_output=True, text=True)
    assert "--port 8050" in default.stdout


def test_a_bad_choice_is_one_plain_line(cli):
    done = cli("stats", "annual", "--year", "2016", "--level", "nope")
    assert done.exit_code == 1
    lines = [line for line in done.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), done.output
    assert "Value error" not in done.output and "'nope' is not one of" in done.output
