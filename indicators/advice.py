"""HJ 633-2012 表 2: per AQI level (1–6), the health effects and recommended measures.

The official Chinese texts and English translations, used by the public page of the
dashboard and the alert emails.
"""
from __future__ import annotations

#: AQI range of each level.
RANGES = {1: "0–50", 2: "51–100", 3: "101–150", 4: "151–200", 5: "201–300", 6: ">300"}

#: level → ((effects_zh, measures_zh), (effects_en, measures_en))
ADVICE = {
    1: (("空气质量令人满意，基本无空气污染", "各类人群可正常活动"),
        ("Air quality is satisfactory; there is basically no air pollution.",
         "Everyone can carry on with normal activities.")),
    2: (("空气质量可接受，但某些污染物可能对极少数异常敏感人群健康有较弱影响",
         "极少数异常敏感人群应减少户外活动"),
        ("Air quality is acceptable, but some pollutants may have a weak effect on the health "
         "of a very small number of unusually sensitive people.",
         "A very small number of unusually sensitive people should reduce outdoor activity.")),
    3: (("易感人群症状有轻度加剧，健康人群出现刺激症状",
         "儿童、老年人及心脏病、呼吸系统疾病患者应减少长时间、高强度的户外锻炼"),
        ("Symptoms of susceptible people are mildly aggravated; healthy people show signs of "
         "irritation.",
         "Children, the elderly and people with heart or respiratory disease should reduce "
         "prolonged, strenuous outdoor exercise.")),
    4: (("进一步加剧易感人群症状，可能对健康人群心脏、呼吸系统有影响",
         "儿童、老年人及心脏病、呼吸系统疾病患者避免长时间、高强度的户外锻炼，一般人群适量减少户外运动"),
        ("Symptoms of susceptible people are further aggravated; the heart and respiratory "
         "system of healthy people may be affected.",
         "Children, the elderly and people with heart or respiratory disease should avoid "
         "prolonged, strenuous outdoor exercise; everyone else should reduce outdoor "
         "exercise somewhat.")),
    5: (("心脏病和肺病患者症状显著加剧，运动耐受力降低，健康人群普遍出现症状",
         "儿童、老年人和心脏病、肺病患者应停留在室内，停止户外运动，一般人群减少户外运动"),
        ("Symptoms of people with heart or lung disease are markedly aggravated and their "
         "exercise tolerance falls; healthy people commonly show symptoms.",
         "Children, the elderly and people with heart or lung disease should stay indoors and "
         "stop outdoor exercise; everyone else should reduce outdoor exercise.")),
    6: (("健康人群运动耐受力降低，有明显强烈症状，提前出现某些疾病",
         "儿童、老年人和病人应当留在室内，避免体力消耗，一般人群应避免户外活动"),
        ("Healthy people's exercise tolerance falls, with marked, strong symptoms; some "
         "diseases may appear early.",
         "Children, the elderly and the sick should stay indoors and avoid physical exertion; "
         "everyone else should avoid outdoor activity.")),
}


def advice(level_no: int, lang: str) -> tuple[str, str]:
    """(health effects, recommended measures) of an AQI level (1–6), ``lang`` zh or en."""
    return ADVICE[int(level_no)][lang == "en"]
