"""The editable copy of a city's site configuration (issue 16 §12, store/site_copies.py).

Admin edits are saved as versions in the database (and read-only files in the data
directory), never into the site files of the code checkout; ``lantian init`` without
``--sites`` and the dashboard read the edited copy; loading a shipped file again never
silently overwrites an edit. Runs on SQLite and PostgreSQL (the ``cli`` fixture).
"""
from __future__ import annotations

import os
import shutil
import stat
import subprocess

import pytest
from sqlalchemy import create_engine, delete, select

from config.site_edit import edit_site_text, recipient_rows, target_rows
from config.sites import load_site_config
from dashboard import ids
from store import schema, site_copies
from store.places import city_site_file
from tests.conftest import ROOT, YANGQUAN_SITES
from tests.dash_helpers import dump, site_save, staff_client

CITY = "yangquan-demo"


def git(*args) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout


def read(url, query):
    """``query(conn)`` on the database ``url`` (its own engine, disposed after)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return query(conn)
    finally:
        engine.dispose()


def stored_targets(url) -> set:
    t, d = schema.targets, schema.districts
    return read(url, lambda conn: set(conn.execute(
        select(d.c.code, t.c.pollutant, t.c.value).select_from(
            t.join(d, d.c.id == t.c.district_id))).all()))


def history(url, city: str = CITY) -> list:
    return read(url, lambda conn: site_copies.versions(conn, city))


def site_file_of(url, city: str = CITY) -> str:
    return read(url, lambda conn: city_site_file(conn, city))


def edit_value(url, data_dir, value: float, saved_by: str = "someone", city: str = CITY):
    """An admin edit through the function the page calls: the first target's value."""
    engine = create_engine(url)

    def edit(text, label):
        rows = target_rows(site_copies.parse(text, label))
        rows[0]["value"] = value
        return edit_site_text(text, label, targets=rows)
    try:
        with engine.begin() as conn:
            return site_copies.save_edit(conn, city, data_dir=data_dir, saved_by=saved_by,
                                         edit=edit, note="targets")
    finally:
        engine.dispose()


def save_targets(client, rows: list[dict], version=None):
    """The page's save button, as the browser calls it."""
    return site_save(client, "targets", rows, CITY, version)


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"          # the cli fixture's LANTIAN_DATA_DIR


# -- the shipped files are never written ---------------------------------------------------

def test_an_admin_edit_on_the_page_leaves_the_checkout_untouched(cli, db_url, data_dir):
    shipped = YANGQUAN_SITES.read_bytes()
    status_before = git("status", "--porcelain", "--untracked-files=all", "--", "config/")
    assert cli("init", "--sites", YANGQUAN_SITES).exit_code == 0
    from dashboard.app import create_app
    app = create_app(db_url, cache_url="")
    client = staff_client(app, "admin")
    rows = target_rows(load_site_config(YANGQUAN_SITES))
    assert (rows[0]["district"], rows[0]["value"]) == ("chengqu", 37)
    rows[0]["value"] = 33
    answer = dump(save_targets(client, rows).get_json())
    assert "已保存" in answer and "第 2 版" in answer, answer
    # the shipped file: same bytes, no diff, nothing new beside it (no .bak)
    assert YANGQUAN_SITES.read_bytes() == shipped
    assert git("diff", "--", "config/sites/yangquan.yaml") == ""
    assert git("status", "--porcelain", "--untracked-files=all", "--", "config/") == \
        status_before
    assert not list(YANGQUAN_SITES.parent.glob("*.bak"))
    # the edit: a version with who and what, a read-only file in the data directory that
    # cities.site_file names (what the weekly reports and alerts read), the database
    found = history(db_url)
    assert [(v.version, v.source, v.saved_by) for v in found] == \
        [(1, "shipped", found[0].saved_by), (2, "admin", "test-admin")]
    path = site_file_of(db_url)
    assert path.startswith(str(data_dir / "sites" / CITY)) and path.endswith(".yaml")
    assert not stat.S_IMODE(os.stat(path).st_mode) & 0o222
    assert load_site_config(path).targets[0].value == 33
    assert ("chengqu", "NO2", 33.0) in stored_targets(db_url)
    # the page shows the edited copy
    page = dump(client.post("/_dash-update-component", json={
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [{"id": "_pages_content", "property": "children"},
                    {"id": "_pages_store", "property": "data"}],
        "inputs": [{"id": "_pages_location", "property": "pathname", "value": "/admin"},
                   {"id": "_pages_location", "property": "search", "value": ""}],
        "changedPropIds": ["_pages_location.pathname"], "state": []}).get_json())
    assert '"value": 33' in page and "test-admin" in page


def test_the_edit_function_writes_only_the_database_and_the_data_dir(cli, db_url, data_dir,
                                                                     tmp_path):
    site = tmp_path / "yangquan.yaml"
    shutil.copy(YANGQUAN_SITES, site)
    before = site.read_bytes()
    assert cli("init", "--sites", site).exit_code == 0
    old, new, version = edit_value(db_url, data_dir, 31)
    assert old.targets[0].value == 37 and new.targets[0].value == 31
    assert version.version == 2 and version.source == "admin"
    assert site.read_bytes() == before
    # nothing new beside the file (no backup): only the database and the data directory
    assert {p.name for p in tmp_path.iterdir()} - {"data", "yangquan.yaml"} <= \
        {"lantian-test.sqlite", "lantian-test.sqlite-wal", "lantian-test.sqlite-shm"}
    files = sorted((data_dir / "sites" / CITY).iterdir())
    assert [f.name[:5] for f in files] == ["0001-", "0002-"]
    # saving the same rows again is no new version
    assert edit_value(db_url, data_dir, 31)[2] is None
    assert len(history(db_url)) == 2


# -- the next init reads the edited copy ------------------------------------------------------

def test_init_without_sites_loads_the_edited_copy(cli, db_url, data_dir):
    assert cli("init", "--sites", YANGQUAN_SITES).exit_code == 0
    edit_value(db_url, data_dir, 30)
    # someone changes the targets table behind Lantian's back: init puts the copy back
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(delete(schema.targets))
    engine.dispose()
    result = cli("init")
    assert result.exit_code == 0, result.output
    assert "version 2 of the city's copy (admin" in result.output
    assert ("chengqu", "NO2", 30.0) in stored_targets(db_url)
    assert len(stored_targets(db_url)) == 12
    # the version file is written again where it is missing (another server)
    shutil.rmtree(data_dir / "sites")
    assert cli("init").exit_code == 0
    assert load_site_config(site_file_of(db_url)).targets[0].value == 30


def test_init_with_the_same_shipped_file_keeps_the_edits(cli, db_url, data_dir):
    assert cli("init", "--sites", YANGQUAN_SITES).exit_code == 0
    edit_value(db_url, data_dir, 29, saved_by="wang")
    result = cli("init", "--sites", YANGQUAN_SITES)      # a deployment script, again
    assert result.exit_code == 0, result.output
    assert "kept the edited copy, version 2" in result.output and "wang" in result.output
    assert ("chengqu", "NO2", 29.0) in stored_targets(db_url)
    assert len(history(db_url)) == 2


def test_a_changed_shipped_file_is_refused_over_edits_unless_replace(cli, db_url, data_dir,
                                                                      tmp_path):
    site = tmp_path / "yangquan.yaml"
    shutil.copy(YANGQUAN_SITES, site)
    assert cli("init", "--sites", site).exit_code == 0
    edit_value(db_url, data_dir, 28, saved_by="li")
    # git pull brings a new shipped file (another target value)
    site.write_text(site.read_text(encoding="utf-8").replace("value: 37", "value: 35", 1),
                    encoding="utf-8")
    refused = cli("init", "--sites", site)
    assert refused.exit_code == 1
    assert "Traceback" not in refused.output
    text = " ".join(refused.output.split())
    for part in ("1 edit(s)", "version 2 by li", "nothing was loaded", "--replace",
                 "lantian sites history --city yangquan-demo"):
        assert part in text, part
    assert ("chengqu", "NO2", 28.0) in stored_targets(db_url)      # nothing loaded
    assert len(history(db_url)) == 2
    replaced = cli("init", "--sites", site, "--replace")
    assert replaced.exit_code == 0, replaced.output
    assert "replaced the edited copy: stored as version 3" in replaced.output
    assert ("chengqu", "NO2", 35.0) in stored_targets(db_url)
    found = history(db_url)
    assert [v.source for v in found] == ["shipped", "admin", "replace"]
    assert found[1].saved_by == "li" and "28" in found[1].content     # the edit is kept
    assert "versions 2" in found[2].note
    # the history on the command line: who, when, what
    shown = cli("sites", "history", "--city", CITY)
    assert shown.exit_code == 0
    lines = shown.output.splitlines()
    assert "3 version(s)" in lines[0]
    assert "li" in lines[2] and "admin" in lines[2] and "+1 -1 lines" in lines[2]
    assert lines[3].startswith("*") and "replace" in lines[3]
    diff = cli("sites", "diff", "--city", CITY, "--from", "1", "--to", "2").output
    # only the changed row differs (the other rows keep their alignment)
    changed = [line for line in diff.splitlines() if line[:1] in "+-"
               and not line.startswith(("+++", "---"))]
    assert len(changed) == 2 and "value: 37" in changed[0] and "value: 28" in changed[1]
    assert "value: 28" in cli("sites", "show", "--city", CITY, "--version", "2").output


def test_a_changed_file_without_edits_is_followed(cli, db_url, tmp_path):
    site = tmp_path / "yangquan.yaml"
    shutil.copy(YANGQUAN_SITES, site)
    assert cli("init", "--sites", site).exit_code == 0
    site.write_text(site.read_text(encoding="utf-8").replace("value: 37", "value: 34", 1),
                    encoding="utf-8")
    result = cli("init", "--sites", site)
    assert result.exit_code == 0, result.output
    assert "the file changed: stored as version 2" in result.output
    assert ("chengqu", "NO2", 34.0) in stored_targets(db_url)
    assert [v.source for v in history(db_url)] == ["shipped", "shipped"]


def test_a_database_loaded_before_copies_adopts_its_site_file(cli, db_url, data_dir, tmp_path):
    site = tmp_path / "yangquan.yaml"
    shutil.copy(YANGQUAN_SITES, site)
    assert cli("init", "--sites", site).exit_code == 0
    engine = create_engine(db_url)
    with engine.begin() as conn:         # as a database of schema 0008 would be
        conn.execute(delete(schema.site_versions))
        conn.execute(schema.cities.update().values(site_file=str(site)))
    engine.dispose()
    result = cli("init")
    assert result.exit_code == 0, result.output
    found = history(db_url)
    assert [(v.version, v.source, v.origin) for v in found] == [(1, "file", str(site))]
    assert site_file_of(db_url).startswith(str(data_dir))
    # and an edit on a database not yet adopted adopts first, then saves version 2
    with create_engine(db_url).begin() as conn:
        conn.execute(delete(schema.site_versions))
        conn.execute(schema.cities.update().values(site_file=str(site)))
    before = site.read_bytes()
    assert edit_value(db_url, data_dir, 27)[2].version == 2
    assert site.read_bytes() == before


def test_databases_sharing_a_data_dir_keep_their_own_versions(cli, db_url, data_dir, tmp_path,
                                                              monkeypatch):
    assert cli("init", "--sites", YANGQUAN_SITES).exit_code == 0
    other = f"sqlite:///{tmp_path / 'other.sqlite'}"
    monkeypatch.setenv("LANTIAN_DATABASE_URL", other)
    assert cli("init", "--sites", YANGQUAN_SITES).exit_code == 0
    edit_value(db_url, data_dir, 26)
    edit_value(other, data_dir, 25)
    # the same version number, different texts: different files, each database its own
    assert site_file_of(db_url) != site_file_of(other)
    assert load_site_config(site_file_of(db_url)).targets[0].value == 26
    assert load_site_config(site_file_of(other)).targets[0].value == 25


def test_an_invalid_edit_saves_nothing(cli, db_url, data_dir):
    assert cli("init", "--sites", YANGQUAN_SITES).exit_code == 0
    engine = create_engine(db_url)

    def bad(text, label):
        rows = recipient_rows(site_copies.parse(text, label))
        rows.append({"scope": "city", "email": "not an address", "lang": "zh", "name": ""})
        return edit_site_text(text, label, recipients=rows)
    from config import ConfigError
    with pytest.raises(ConfigError, match="not an email address"):
        with engine.begin() as conn:
            site_copies.save_edit(conn, CITY, data_dir=data_dir, saved_by="x", edit=bad)
    engine.dispose()
    assert len(history(db_url)) == 1
    assert len(list((data_dir / "sites" / CITY).iterdir())) == 1


def test_a_save_from_a_page_opened_on_an_older_version_is_refused(cli, db_url):
    """Two administrators open the targets of version 1; the first saves (version 2); the
    second's save, made on version 1, would silently undo it: refused, nothing saved."""
    assert cli("init", "--sites", YANGQUAN_SITES).exit_code == 0
    from dashboard.app import create_app
    app = create_app(db_url, cache_url="")
    first, second = staff_client(app, "admin"), staff_client(app, "admin")
    rows = target_rows(load_site_config(YANGQUAN_SITES))
    mine = [dict(r) for r in rows]
    mine[0]["value"] = 33
    answer = save_targets(first, mine, version=1).get_json()
    assert "第 2 版" in dump(answer)
    assert answer["response"][ids.ADMIN_TARGETS_VERSION]["data"] == 2   # the grid now shows 2
    theirs = [dict(r) for r in rows]
    theirs[1]["value"] = 44
    refused = dump(save_targets(second, theirs, version=1).get_json())
    assert "您编辑的是第 1 版" in refused and "第 2 版" in refused and "未保存" in refused
    assert [v.version for v in history(db_url)] == [1, 2]
    current = load_site_config(site_file_of(db_url))
    assert [t.value for t in current.targets][:2] == [33, 45]          # the first edit kept
    # reloaded on version 2, the second administrator's save goes through
    assert "第 3 版" in dump(save_targets(second, theirs, version=2).get_json())
