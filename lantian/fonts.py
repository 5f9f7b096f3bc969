"""Is there a font for Chinese text on this machine? (``python -m lantian.fonts``)

The dashboard's text is Chinese first and the browser draws it with the fonts
of the machine it runs on; without a CJK font every character is a box. The
charts of the weekly emails are drawn here too (kaleido, headless Chromium).
``make demo`` runs this check and says how to install a font when none is found.
"""
from __future__ import annotations

import shutil
import subprocess
import sys

HINT = ("no font with Chinese characters was found on this machine: Chinese text will show "
        "as boxes in a browser here and in the report charts. Install one, e.g. "
        "'sudo apt-get install fonts-wqy-microhei' (Debian/Ubuntu), "
        "'sudo dnf install wqy-microhei-fonts' (Fedora) or 'brew install --cask "
        "font-noto-sans-cjk' (macOS), then reload the page.")


def cjk_fonts() -> list[str] | None:
    """Families that cover Chinese (fontconfig's ``fc-list :lang=zh``); None when fontconfig
    is not installed (the check cannot tell)."""
    if shutil.which("fc-list") is None:
        return None
    done = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True,
                          timeout=30)
    return sorted({line.strip() for line in done.stdout.splitlines() if line.strip()})


def main() -> int:
    fonts = cjk_fonts()
    if fonts is None:
        print("note: fontconfig (fc-list) is not installed, so the Chinese font check was "
              "skipped; if Chinese text shows as boxes, " + HINT.split(": ", 1)[1])
        return 0
    if not fonts:
        print("warning: " + HINT, file=sys.stderr)
        return 1
    print(f"Chinese font found: {fonts[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
