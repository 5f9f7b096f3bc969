"""Unit spellings, normalised once for config, ingest and indicators."""


def normalise_unit(unit) -> str:
    """``"UG/M³"``, ``"μg/m3"``, ``" ug / m3"`` → ``"µg/m3"``; ``"MG/M3"`` → ``"mg/m3"``.

    casefold() turns the micro sign into Greek mu, so fold first, then map mu
    (and "ug") to the micro sign.
    """
    return (str(unit).strip().casefold().replace("μ", "µ").replace("³", "3")
            .replace("ug", "µg").replace(" ", ""))
