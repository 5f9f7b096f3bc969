"""The interface texts live in gettext catalogs (dashboard/locale/<lang>/LC_MESSAGES/lantian.po)
that a translator edits without Python; every key the code asks for is in both."""
from __future__ import annotations

import io
import re

from dashboard import translations
from dashboard.i18n import catalog, catalog_path, strings, t


def test_no_catalog_entry_is_missing_untranslated_or_inconsistent():
    found = translations.problems()
    assert found == {"missing": [], "untranslated": [], "placeholders": []}


def test_the_extractor_finds_the_keys_the_pages_use():
    """Babel's extraction with our method sees literal keys, both branches of a
    conditional key, and the fixed part of keys completed at run time."""
    used = translations.used_keys()
    assert len(used) > 450
    assert ("dashboard/auth.py" in {f for f, _ in used["login.title"]})
    assert "ov.heatmap" in used and "ov.heatmap_reference" in used       # t(a if x else b)
    dynamic = translations.dynamic_prefixes()
    assert "ov.status." in dynamic and "role." in dynamic
    assert all(any(k.startswith(p) for k in catalog("zh")) for p in dynamic)


def test_both_languages_hold_the_same_keys_and_english_has_no_chinese():
    zh, en = catalog("zh"), catalog("en")
    assert set(zh) == set(en) and len(zh) > 700
    cjk = re.compile(r"[\u4e00-\u9fff]")
    mixed = {k for k, v in en.items() if cjk.search(v)}
    assert mixed == {"data.switch", "page.switch"}         # the switch names the other language
    assert t("login.title", "zh") == "工作人员登录" and t("login.title", "en") == "Staff sign-in"


def test_compiled_catalogs_read_the_same_as_the_po_files():
    import gettext

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    for lang in ("zh", "en"):
        with open(catalog_path(lang), "rb") as fh:
            po = read_po(fh, locale=lang)
        buffer = io.BytesIO()
        write_mo(buffer, po)
        buffer.seek(0)
        compiled = gettext.GNUTranslations(buffer)
        assert {k: compiled.gettext(k) for k in catalog(lang)} == catalog(lang)
