"""QC flags on hand-made series and invariants (hypothesis)."""
import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.frame import long_from_wide
from ingest.qc import FLAGS, apply_qc, load_rules


def _frame(pollutant, values, station="S1", start="2024-01-01"):
    values = np.asarray(values, dtype=float)
    times = pd.date_range(start, periods=len(values), freq="h").to_numpy("datetime64[s]")
    return long_from_wide(times, station, {pollutant: (values, np.isnan(values),
                                                       np.zeros(len(values), bool))})


def flags_of(pollutant, values, **kw):
    return apply_qc(_frame(pollutant, values, **kw))["flag"].astype(str).tolist()


def test_negative_and_missing():
    assert flags_of("NO2", [10, -1, np.nan, 12]) == ["ok", "negative", "missing", "ok"]


def test_ceiling_needs_repeats_of_an_exact_cap():
    assert flags_of("PM2.5", [50, 999, 60, 999, 70]) == ["ok", "ceiling", "ok", "ceiling", "ok"]
    assert flags_of("PM2.5", [900, 999, 950, 970]) == ["ok"] * 4  # once, in an episode: real
    assert flags_of("PM2.5", [50, 999, 60, 70])[1] == "spike"  # once, isolated: a spike
    assert flags_of("PM2.5", [900, 998, 950, 998]) == ["ok"] * 4  # not a cap value
    # CO stored in mg/m³: the Beijing cap 10000 µg/m³ arrives as exactly 10.0
    assert flags_of("CO", [1.2, 10000 / 1000, 10000 / 1000, 1.0])[1:3] == ["ceiling", "ceiling"]


def test_spike_is_an_isolated_jump():
    assert flags_of("NO2", [30, 32, 400, 31, 29])[2] == "spike"
    assert flags_of("NO2", [30, 300, 400, 310, 29])[2] == "ok"  # a real episode


def test_stuck_run_of_24_hours():
    rules = load_rules()
    run = [50.0] * rules.stuck_hours
    f = flags_of("PM10", [40.0, *run, 41.0])
    assert f[1:-1] == ["stuck"] * rules.stuck_hours and f[0] == f[-1] == "ok"
    assert "stuck" not in flags_of("PM10", [40.0, *run[:-1], 41.0])
    # long runs at the detection limit are normal
    assert "stuck" not in flags_of("SO2", [2.0] * 48)


def test_neighbours_only_within_a_station():
    a = _frame("NO2", [30, 31, 400], station="A")
    b = _frame("NO2", [31, 30, 32], station="B")
    out = apply_qc(pd.concat([a, b], ignore_index=True))
    assert set(out["flag"].astype(str)) == {"ok"}  # 400 is A's last hour: no next neighbour


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.floats(-50, 2000, allow_nan=False), st.just(float("nan"))),
                min_size=1, max_size=80),
       st.sampled_from(["SO2", "NO2", "CO", "O3", "PM10", "PM2.5"]))
def test_qc_never_drops_or_changes_values(values, pollutant):
    frame = _frame(pollutant, values)
    out = apply_qc(frame)
    assert len(out) == len(frame)
    np.testing.assert_array_equal(out["value"].to_numpy(), frame["value"].to_numpy())
    flags = out["flag"].astype(str).to_numpy()
    assert set(flags) <= set(FLAGS)
    v = out["value"].to_numpy()
    assert (flags[np.isnan(v)] == "missing").all()
    assert (flags[v < 0] == "negative").all()
    assert not ((flags == "negative") & (v >= 0)).any()


def test_real_data_flags(shared_data):
    """Stuck runs on the real sets: artefacts flagged, clean coarse-resolution air not."""
    from ingest.csvfile import read_csv
    from ingest.prsa import read_prsa
    haikou = apply_qc(read_csv(shared_data / "haikou-1410A" / "PM2.5NO2SO2O3CO_1410A.csv.gz",
                               layout="wide", station="1410A", units={"CO": "mg/m3"}))
    flags = haikou["flag"].astype(str)
    # CO published to 0.1 mg/m³ since 2017 sits at 0.4–0.6 for days in clean air.
    assert not ((haikou["pollutant"] == "CO") & (flags == "stuck")).any()
    assert not ((haikou["pollutant"] == "SO2") & (flags == "stuck")).any()
    wanshouxigong = apply_qc(read_prsa(shared_data / "beijing-multisite"
                                / "PRSA_Data_Wanshouxigong_20130301-20170228.csv.gz"))
    day = wanshouxigong[(wanshouxigong["pollutant"] == "O3")
                 & (wanshouxigong["time"].dt.strftime("%Y-%m-%d") == "2013-03-06")]
    # O3 held at 78 µg/m³ around the clock: a filled value, not a measurement.
    flat = day[day["value"] == 78.0]
    assert len(flat) == 17 and (flat["flag"].astype(str) == "stuck").all()
