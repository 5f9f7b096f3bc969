"""Lantian web dashboard (Dash).

Layout of the package:

``app``      the one app factory, :func:`dashboard.app.create_app`
``ids``      every component id used by layouts and callbacks
``i18n``     interface strings (Chinese first, English second)
``queries``  database → DataFrames; every function takes an engine
``figures``  DataFrame → plotly Figure; pure functions, no database
``pages/``   one module per page; each registers nothing by itself —
             :func:`dashboard.app.create_app` registers them explicitly
``assets/``  local CSS (nothing is loaded from the network)
"""
