"""Settings resolution and site-file validation."""
from pathlib import Path

import pytest
import yaml

from config import ConfigError
from config.settings import load_settings
from config.sites import load_site_config
from tests.conftest import BEIJING_SITES, YANGQUAN_SITES


def test_settings_precedence_env_over_file_over_default(tmp_path):
    settings_file = tmp_path / "settings.yaml"
    settings_file.write_text("database_url: sqlite:////from/file.sqlite\n"
                             f"data_dir: {tmp_path / 'filedata'}\n")
    from_file = load_settings({"LANTIAN_SETTINGS": str(settings_file)})
    assert from_file.database_url == "sqlite:////from/file.sqlite"
    assert from_file.data_dir == tmp_path / "filedata"
    env = load_settings({"LANTIAN_SETTINGS": str(settings_file),
                         "LANTIAN_DATABASE_URL": "postgresql://u@h/db"})
    assert env.database_url == "postgresql://u@h/db"
    assert env.data_dir == tmp_path / "filedata"


def test_default_database_is_under_the_data_dir_never_the_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings({"LANTIAN_DATA_DIR": str(tmp_path / "d")})
    assert s.database_url == f"sqlite:///{tmp_path / 'd' / 'lantian.sqlite'}"
    default = load_settings({"HOME": str(tmp_path)})
    assert not default.database_url.endswith("///lantian.sqlite")
    assert Path(default.database_url.split("///", 1)[1]).parent != Path.cwd()


def test_unknown_setting_names_file_and_key(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("databse_url: x\n")
    with pytest.raises(ConfigError) as e:
        load_settings({"LANTIAN_SETTINGS": str(f)})
    assert str(f) in str(e.value) and "databse_url" in str(e.value)
    assert "database_url" in str(e.value)  # the fix names the right key


def test_shipped_site_files():
    bj = load_site_config(BEIJING_SITES)
    assert bj.city.id == "beijing" and not bj.city.synthetic
    assert [d.id for d in bj.districts] == ["dongcheng", "xicheng", "chaoyang", "haidian",
                                            "shijingshan", "changping", "shunyi", "huairou"]
    stations = {s.code: s for s in bj.stations}
    assert len(stations) == 12
    assert stations["1002A"].role == "background" and stations["1002A"].district == "changping"
    assert sum(s.is_evaluation for s in bj.stations) == 11
    assert (stations["1003A"].lon, stations["1003A"].lat) == (116.4174, 39.9289)
    assert stations["1011A"].district == "chaoyang" and stations["1012A"].district == "shijingshan"

    yq = load_site_config(YANGQUAN_SITES)
    assert yq.city.synthetic and "合成" in yq.city.name_zh
    assert [d.name_zh for d in yq.districts] == ["城区", "矿区", "开发区", "郊区", "平定县", "盂县"]
    no2 = {t.district: t.value for t in yq.targets if t.pollutant == "NO2"}
    so2 = {t.district: t.value for t in yq.targets if t.pollutant == "SO2"}
    order = ["chengqu", "kuangqu", "kaifaqu", "jiaoqu", "pingding", "yuxian"]
    assert [no2[d] for d in order] == [37, 45, 40, 35, 39, 30]
    assert [so2[d] for d in order] == [18, 20, 21, 37, 40, 44]
    assert all(t.applies_to(2026) and not t.applies_to(2020) for t in yq.targets)
    assert all(s.code.startswith("SYN") for s in yq.stations)
    networks = {s.district: s.network for s in yq.stations}
    assert {d for d, n in networks.items() if n == "national"} == {"chengqu", "kuangqu", "kaifaqu"}


def _broken(tmp_path, mutate):
    data = yaml.safe_load(BEIJING_SITES.read_text(encoding="utf-8"))
    mutate(data)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_site_config(path)
    return path, str(e.value)


@pytest.mark.parametrize("mutate, key, words", [
    (lambda d: d["stations"][3].update(district="dongchen"), "stations[3].district",
     "unknown district 'dongchen'"),
    (lambda d: d["stations"][5].update(code="1001A"), "stations[5].code",
     "duplicate station code '1001A'"),
    (lambda d: d.update(targets=[{"district": "dongcheng", "pollutant": "NO2",
                                  "statistic": "annual_mean", "value": 30, "unit": "ppb"}]),
     "targets[0].unit", "bad unit 'ppb'"),
    (lambda d: d["districts"][0].update(grade="III"), "districts[0].grade", "'III' is not a grade"),
    (lambda d: d["stations"][0].update(role="control"), "stations[0].role", "not a station role"),
    (lambda d: d["stations"][0].update(lat=139.9), "stations[0].lat", "outside"),
    (lambda d: d["city"].pop("id"), "city.id", "missing"),
    (lambda d: d.update(targets=[{"district": "dongcheng", "pollutant": "NO2",
                                  "statistic": "annual_mean", "value": 30, "years": "2025-2021"}]),
     "targets[0].years", "ends before it starts"),
])
def test_config_mistakes_name_file_key_and_fix(tmp_path, mutate, key, words):
    path, message = _broken(tmp_path, mutate)
    assert message.startswith(f"{path}: {key}: ")
    assert words in message
    assert " — " in message  # followed by the fix


def test_yaml_syntax_error_names_the_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("city:\n  id: x\n  name_zh: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_site_config(p)
    assert str(p) in str(e.value) and "line" in str(e.value)


def test_cli_reports_config_mistake_on_one_line(cli, tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(BEIJING_SITES.read_text(encoding="utf-8").replace("district: xicheng",
                                                                   "district: xichen", 1),
                 encoding="utf-8")
    result = cli("init", "--sites", p)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "unknown district 'xichen'" in result.output


def test_target_units_accept_any_spelling(tmp_path):
    """One unit normaliser for config, ingest and indicators (config.units)."""
    from config.units import normalise_unit
    assert {normalise_unit(u) for u in ("µg/m3", "μg/m³", "UG/M3", " ug / m3")} == {"µg/m3"}
    data = yaml.safe_load(BEIJING_SITES.read_text(encoding="utf-8"))
    data["targets"] = [{"district": "dongcheng", "pollutant": "NO2", "statistic": "annual_mean",
                        "value": 37, "unit": "UG/M3"}]
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert load_site_config(path).targets[0].unit == "µg/m3"
