"""Keeping the gettext catalogs of the interface (``dashboard/locale``) in step with the code.

    python -m dashboard.translations check     # what is missing or unused (exit 1 if missing)
    python -m dashboard.translations update    # refresh the "used at" references in the .po
    python -m dashboard.translations compile   # write the .mo files beside the .po

The code asks for texts by key with ``t("ov.title", lang)``; Babel's extractor (keyword
``t``) finds every literal key. Keys built at run time (``t(f"ov.status.{word}")``) are
not extractable: :func:`dynamic_prefixes` finds their fixed part, and the catalogs must
hold keys under each (tests/test_translations.py; the pages' tests render every value).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from .i18n import DOMAIN, LANGS, LOCALE_DIR, catalog_path

PACKAGE = Path(__file__).resolve().parent
#: ``t(f"prefix.{…}")``: a key completed at run time.
_DYNAMIC = re.compile(r"""(?<![\w.])t\(f["']([a-z_.]+)\{""")


#: What a message key looks like: dotted words (``ov.title``, ``ov.status.at risk``).
KEY = re.compile(r"^[a-z][a-z0-9_]*(\.[A-Za-z0-9_ -]+)+$")


def extract_keys(fileobj, keywords, comment_tags, options):
    """A Babel extraction method for our calls: ``t("key", lang)`` and ``has("key")``,
    including both branches of ``t("a" if x else "b")``. Yields Babel's tuples
    (line, function, message, comments). An f-string key is left to
    :func:`dynamic_prefixes`."""
    import ast
    tree = ast.parse(fileobj.read().decode("utf-8"))
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) in keywords
                and node.args):
            continue
        arg = node.args[0]
        branches = [arg.body, arg.orelse] if isinstance(arg, ast.IfExp) else [arg]
        for branch in branches:
            if isinstance(branch, ast.Constant) and isinstance(branch.value, str) \
                    and KEY.match(branch.value):
                yield node.lineno, node.func.id, branch.value, []


def used_keys() -> dict[str, list[tuple[str, int]]]:
    """Every literal key of ``t(...)`` / ``has(...)`` in the dashboard → where it is used
    (Babel's extraction over the package with :func:`extract_keys`)."""
    from babel.messages.extract import extract_from_dir
    found: dict[str, list[tuple[str, int]]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(PACKAGE), [("**.py", extract_keys)], keywords={"t": None, "has": None},
            comment_tags=()):
        found.setdefault(message, []).append((f"dashboard/{filename}", lineno))
    return found


def dynamic_prefixes() -> dict[str, str]:
    """The fixed part of every key the code completes at run time → a file using it."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "translations.py":
            continue
        for prefix in _DYNAMIC.findall(path.read_text(encoding="utf-8")):
            found.setdefault(prefix, f"dashboard/{path.relative_to(PACKAGE)}")
    return found


def _read(lang: str):
    from babel.messages.pofile import read_po
    with open(catalog_path(lang), "rb") as fh:
        return read_po(fh, locale=lang, domain=DOMAIN)


def update() -> None:
    """Rewrite each catalog with the current "used at" references (texts untouched)."""
    from babel.messages.pofile import write_po
    used = used_keys()
    names = {"zh": "Chinese (简体中文)", "en": "English"}
    for lang in LANGS:
        cat = _read(lang)
        cat.header_comment = (f"# Lantian interface texts: {names[lang]}.\n"
                              "# Each msgid is a key used by the code; translate the msgstr only.\n"
                              "# Keep {placeholders} as they are. Check with:\n"
                              "#   python -m dashboard.translations check")
        cat.project, cat.version = "Lantian", "1"
        cat.last_translator = cat.language_team = "Lantian"
        cat.msgid_bugs_address = ""
        for message in cat:
            if message.id:
                message.locations = sorted(set(used.get(message.id, [])))
        with open(catalog_path(lang), "wb") as fh:
            write_po(fh, cat, width=0, omit_header=False, include_previous=False)


def compile_catalogs() -> list[Path]:
    """Write ``lantian.mo`` beside each ``lantian.po`` (read by :func:`dashboard.i18n.catalog`)."""
    from babel.messages.mofile import write_mo
    written = []
    for lang in LANGS:
        with open(catalog_path(lang, ".mo"), "wb") as fh:
            write_mo(fh, _read(lang))
        written.append(catalog_path(lang, ".mo"))
    return written


def problems() -> dict[str, list[str]]:
    """Keys used but missing from a catalog, entries without a translation, and entries
    whose placeholders conflict between the languages."""
    import string
    used = used_keys()
    texts = {lang: {m.id: m.string for m in _read(lang) if m.id} for lang in LANGS}
    out: dict[str, list[str]] = {"missing": [], "untranslated": [], "placeholders": []}
    for prefix, where in dynamic_prefixes().items():
        for lang in LANGS:
            if not any(k.startswith(prefix) for k in texts[lang]):
                out["missing"].append(f"{lang}: {prefix}… (built at run time in {where})")
    for lang in LANGS:
        out["missing"] += [f"{lang}: {k} (used at {used[k][0][0]}:{used[k][0][1]})"
                           for k in sorted(set(used) - set(texts[lang]))]
        out["untranslated"] += [f"{lang}: {k}" for k, v in sorted(texts[lang].items()) if not v]

    def fields(text: str) -> set:
        return {name for _, name, _, _ in string.Formatter().parse(text or "") if name}
    for key in sorted(set(texts["zh"]) & set(texts["en"])):
        # one language may leave out a value the other's grammar needs, not add its own
        zh, en = fields(texts["zh"][key]), fields(texts["en"][key])
        if not (zh <= en or en <= zh):
            out["placeholders"].append(key)
    return out


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "update":
        update()
        return 0
    if command == "compile":
        for path in compile_catalogs():
            print(f"wrote {path.relative_to(LOCALE_DIR.parent.parent)}")
        return 0
    found = problems()
    for kind, items in found.items():
        for item in items:
            print(f"{kind}: {item}")
    return 1 if any(found.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
