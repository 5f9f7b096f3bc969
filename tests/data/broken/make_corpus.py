"""Regenerate the corpus of broken input files (hand-made, not real data).

    .venv/bin/python tests/data/broken/make_corpus.py

Each file is named <reader>__<what is wrong>.<ext>; tests/test_fuzz.py loads
every one and expects either a clean load (with the problem flagged) or one
IngestError naming the file — never a traceback, never a partial write.
"""
import gzip
from pathlib import Path

HERE = Path(__file__).resolve().parent
PRSA_HEADER = ('"No","year","month","day","hour","PM2.5","PM10","SO2","NO2","CO","O3","TEMP",'
               '"PRES","DEWP","RAIN","wd","WSPM","station"')


def prsa_row(no, day, hour, pm25="9", co="300", station="Dongsi"):
    return (f'{no},2013,3,{day},{hour},{pm25},9,3,17,{co},89,-0.5,1024.5,-21.4,0,"NNW",5.7,'
            f'"{station}"')


def prsa_rows(n=30):
    return [prsa_row(i + 1, 1 + i // 24, i % 24) for i in range(n)]


def write(name, data):
    path = HERE / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))


def main():
    good = "\n".join([PRSA_HEADER, *prsa_rows()]) + "\n"
    write("prsa__empty.csv", b"")
    write("prsa__header_only.csv", PRSA_HEADER + "\n")
    write("prsa__truncated.csv.gz", gzip.compress(good.encode())[:-40])
    write("prsa__not_gzip.csv.gz", good)
    write("prsa__missing_column.csv", good.replace(',"NO2"', "").replace(",17,", ","))
    write("prsa__duplicated_header_column.csv", good.replace('"TEMP"', '"SO2"'))
    write("prsa__header_repeated_inside.csv",
          "\n".join([PRSA_HEADER, *prsa_rows(5), PRSA_HEADER, *prsa_rows(30)[5:]]) + "\n")
    write("prsa__text_in_numbers.csv", "\n".join(
        [PRSA_HEADER, *prsa_rows(10), prsa_row(11, 1, 10, pm25="abc"), *prsa_rows(30)[11:]]) + "\n")
    write("prsa__bad_hour.csv", "\n".join([PRSA_HEADER, prsa_row(1, 1, 24)]) + "\n")
    write("prsa__bad_date.csv", "\n".join([PRSA_HEADER, prsa_row(1, 32, 0)]) + "\n")
    write("prsa__unknown_station.csv", "\n".join([PRSA_HEADER, prsa_row(1, 1, 0, station="Atlantis")]) + "\n")
    write("prsa__ragged_row.csv", "\n".join([PRSA_HEADER, *prsa_rows(3), prsa_row(4, 1, 3) + ",1,2"]) + "\n")
    rows = prsa_rows()
    write("prsa__out_of_order.csv", "\n".join([PRSA_HEADER, *reversed(rows)]) + "\n")
    write("prsa__duplicated_identical.csv", "\n".join([PRSA_HEADER, *rows, rows[3]]) + "\n")
    write("prsa__duplicated_conflicting.csv",
          "\n".join([PRSA_HEADER, *rows, prsa_row(99, 1, 3, pm25="55")]) + "\n")
    write("prsa__utf16.csv", good.encode("utf-16"))
    write("prsa__binary.csv", bytes(range(256)) * 4)
    write("prsa__negative_and_caps.csv", "\n".join(
        [PRSA_HEADER, prsa_row(1, 1, 0, pm25="-3"), prsa_row(2, 1, 1, co="10000"),
         prsa_row(3, 1, 2, co="10000")]) + "\n")

    cnemc_header = "date,hour,type,1003A,1011A"
    cnemc_rows = [f"20150101,{h},{t},{10 + h},{20 + h}" for h in range(3)
                  for t in ("PM2.5", "PM2.5_24h", "PM10", "SO2", "NO2", "O3", "CO", "AQI")]
    good_cnemc = "\n".join([cnemc_header, *cnemc_rows]) + "\n"
    write("cnemc__empty.csv", b"")
    write("cnemc__truncated.csv.gz", gzip.compress(good_cnemc.encode())[:-30])
    write("cnemc__missing_type_column.csv", good_cnemc.replace("date,hour,type", "date,hour,kind"))
    write("cnemc__unknown_type.csv", good_cnemc.replace(",NO2,", ",NOX,"))
    write("cnemc__text_in_numbers.csv", good_cnemc.replace("20150101,1,SO2,11,21",
                                                           "20150101,1,SO2,eleven,21"))
    write("cnemc__gbk_header.csv", (cnemc_header + ",监测点\n" + "\n".join(
        r + ",1" for r in cnemc_rows) + "\n").encode("gbk"))
    write("cnemc__duplicated_conflicting.csv",
          good_cnemc + "20150101,0,NO2,999,20\n")
    write("cnemc__bad_hour.csv", good_cnemc.replace("20150101,2,", "20150101,25,"))

    long_header = "station,time,pollutant,value,unit"
    long_rows = [f"1003A,2024-01-01 {h:02d}:00,NO2,{30 + h},µg/m3" for h in range(6)]
    good_long = "\n".join([long_header, *long_rows]) + "\n"
    write("csv-long__missing_value_column.csv", good_long.replace(",value,", ",val,"))
    write("csv-long__bad_time.csv", good_long.replace("2024-01-01 03:00", "2024-13-45 03:00"))
    write("csv-long__not_on_the_hour.csv", good_long.replace("2024-01-01 03:00", "2024-01-01 03:30"))
    write("csv-long__unknown_pollutant.csv", good_long.replace(",NO2,", ",XYZ,", 1))
    write("csv-long__bad_unit.csv", good_long.replace("µg/m3", "furlongs", 1))
    write("csv-long__text_in_numbers.csv", good_long.replace(",33,", ",n/a?,"))
    write("csv-long__duplicated_conflicting.csv", good_long + "1003A,2024-01-01 02:00,NO2,99,µg/m3\n")
    write("csv-long__latin1.csv", (good_long + "1003A,2024-01-01 07:00,NO2,5,\xb5g/m3\n")
          .encode("latin-1"))
    wide_header = "time,PM2.5,NO2,CO"
    wide_rows = [f"2024-01-01 {h:02d}:00,{40 + h},{20 + h},0.{h + 3}" for h in range(6)]
    good_wide = "\n".join([wide_header, *wide_rows]) + "\n"
    write("csv-wide__no_time_column.csv", good_wide.replace("time,", "when,"))
    write("csv-wide__duplicated_timestamps.csv", good_wide + wide_rows[2].replace(",42,", ",77,") + "\n")
    write("csv-wide__out_of_order.csv", "\n".join([wide_header, *reversed(wide_rows)]) + "\n")
    write("csv-wide__empty_lines.csv", "\n\n" + good_wide)
    write("excel-wide__not_a_workbook.xlsx", good_wide)
    write("excel-wide__truncated_zip.xlsx", b"PK\x03\x04" + bytes(200))


if __name__ == "__main__":
    main()
