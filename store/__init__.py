"""Lantian's database: schema, migrations, connection and bulk writes.

SQLite (WAL) is the embedded default; PostgreSQL is the production database.
Hourly readings are stored one row per station-hour with a value and a QC flag
column per pollutant: the natural shape of this domain and six times fewer
rows than one row per reading.
"""
