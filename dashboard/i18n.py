"""Interface strings: Chinese first, English as the alternative.

The strings live in gettext catalogs, one per language:
``dashboard/locale/<lang>/LC_MESSAGES/lantian.po`` (message id = a stable key such as
``"ov.title"``, the translation = the text shown). A translator edits the ``.po`` files
with any gettext tool, no Python needed; ``make translations`` checks the code for keys
(Babel's extractor, keyword ``t``) and compiles the ``.mo`` files that are read when
present and newer than their ``.po`` (otherwise the ``.po`` is read directly).
``tests/test_translations.py`` fails when a key used in the code is missing from a
catalog, a catalog lacks a translation, or the two languages' placeholders differ.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
HTML_LANG = {"zh": "zh-CN", "en": "en"}
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "lantian"

# The synthetic-data warning is always bilingual: it must be read by everyone.
SYNTHETIC_BANNER = "合成演示数据 — SYNTHETIC DEMO DATA, not measurements"


def catalog_path(lang: str, suffix: str = ".po") -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}{suffix}"


@lru_cache(maxsize=None)
def catalog(lang: str) -> dict[str, str]:
    """key → text of one language (the compiled ``.mo`` when it is up to date)."""
    po, mo = catalog_path(lang), catalog_path(lang, ".mo")
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        from babel.messages.mofile import read_mo as read
        path = mo
    else:
        from babel.messages.pofile import read_po as read
        path = po
    with open(path, "rb") as fh:
        return {m.id: m.string for m in read(fh) if m.id and m.string}


def strings() -> dict[str, tuple[str, str]]:
    """Every key with its (zh, en) texts."""
    zh, en = catalog("zh"), catalog("en")
    return {k: (zh.get(k, ""), en.get(k, "")) for k in sorted(set(zh) | set(en))}


def has(key: str) -> bool:
    return key in catalog(DEFAULT_LANG)


def normalize_lang(value) -> str:
    """``'en'``, ``'en-US'`` → ``'en'``; anything else → the default (Chinese)."""
    return "en" if isinstance(value, str) and value.lower().startswith("en") else DEFAULT_LANG


def search_lang(search) -> str:
    """The language a page address's query asks for (``?city=…&lang=en`` → ``'en'``)."""
    from urllib.parse import parse_qs
    return normalize_lang(parse_qs(str(search or "").lstrip("?")).get("lang", [""])[0])


def referrer_lang() -> str:
    """The language of the page that sent this request (its ``?lang=``): for what a
    callback or the per-request frame renders, which get no query of their own."""
    from urllib.parse import urlsplit

    from flask import has_request_context, request
    referrer = request.referrer if has_request_context() else None
    return search_lang(urlsplit(referrer or "").query)


def t(key: str, lang: str = DEFAULT_LANG, **fmt) -> str:
    """The text of ``key`` in ``lang`` (a key missing from the catalogs is an error)."""
    text = catalog("en" if lang == "en" else DEFAULT_LANG)[key]
    return text.format(**fmt) if fmt else text
