"""Named label maps: how each dataset's native emotions become the classes a model learns.

``native``      the dataset's own emotion, normalised (lower case, ``Other``/``Others`` -> ``others``)
``megc2019``    positive / negative / surprise, the MEGC2019 composite (DATASETS.md section 11)
``casme2-5``    happiness, surprise, disgust, repression, others (fear, sadness -> others; paper 002)
``rafdb-7``     RAF-DB's 7 basic classes
``ckplus-7``    CK+'s 7 emotions; ``ckplus-8`` adds neutral

Class order (the index a model predicts) is the order in :data:`LABEL_MAPS`. A sample outside a
map (``others`` under MEGC2019, a MEGC-excluded clip) gets ``None`` for that map.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LabelMap:
    name: str
    classes: tuple[str, ...]
    description: str

    def index(self, label: str) -> int:
        return self.classes.index(label)


LABEL_MAPS: dict[str, LabelMap] = {
    m.name: m
    for m in (
        LabelMap("megc2019", ("negative", "positive", "surprise"), "MEGC2019 composite, 3 classes"),
        LabelMap(
            "casme2-5",
            ("happiness", "surprise", "disgust", "repression", "others"),
            "CASME II 5 classes (paper 002)",
        ),
        LabelMap(
            "rafdb-7",
            ("surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral"),
            "RAF-DB basic, label files' 1..7 order",
        ),
        LabelMap(
            "ckplus-7",
            ("anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise"),
            "CK+ 7 emotions",
        ),
        LabelMap(
            "ckplus-8",
            ("neutral", "anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise"),
            "CK+ codes 0..7",
        ),
    )
}

#: Spellings seen in the sheets -> the normalised native emotion.
_ALIASES = {
    "other": "others",
    "comtempt": "contempt",  # one CASME I loader's spelling
    "happyiness": "happiness",  # CAS(ME)^2 self-report typo
}

#: CASME II clips the MEGC2019 list leaves out although their emotion is kept (DATASETS.md 1.5).
MEGC2019_CASME2_EXCLUDED = frozenset({("sub04", "EP12_01f"), ("sub05", "EP09_05f"), ("sub09", "EP02_02f")})

_MEGC = {
    "casme2": {
        "happiness": "positive",
        "disgust": "negative",
        "repression": "negative",
        "surprise": "surprise",
    },
    "samm": {
        "happiness": "positive",
        "anger": "negative",
        "contempt": "negative",
        "disgust": "negative",
        "fear": "negative",
        "sadness": "negative",
        "surprise": "surprise",
    },
    "smic": {"positive": "positive", "negative": "negative", "surprise": "surprise"},
}

_CASME2_5 = {
    "happiness": "happiness",
    "surprise": "surprise",
    "disgust": "disgust",
    "repression": "repression",
    "others": "others",
    "fear": "others",
    "sadness": "others",
}


def normalise_emotion(raw: object) -> str | None:
    """Lower-case, strip, and fold known spellings; ``None`` for an empty cell."""
    if raw is None:
        return None
    text = str(raw).strip().lower()
    if not text or text == "nan":
        return None
    return _ALIASES.get(text, text)


def megc2019_label(
    dataset: str, emotion: str | None, subject: str | None = None, clip: str | None = None
) -> str | None:
    """MEGC2019 3-class label, or None when the sample is not part of the composite."""
    if emotion is None or dataset not in _MEGC:
        return None
    if dataset == "casme2" and (subject, clip) in MEGC2019_CASME2_EXCLUDED:
        return None
    return _MEGC[dataset].get(emotion)


def casme2_5_label(emotion: str | None) -> str | None:
    return _CASME2_5.get(emotion) if emotion else None


def get_label_map(name: str, native_classes: list[str] | None = None) -> LabelMap:
    """The label map ``name``; ``native`` needs the dataset's own classes (sorted)."""
    if name == "native":
        return LabelMap("native", tuple(sorted(native_classes or [])), "the dataset's own emotions")
    try:
        return LABEL_MAPS[name]
    except KeyError:
        from mertool.errors import MertoolError

        raise MertoolError(
            f"unknown label map {name!r}", hint=f"one of: native, {', '.join(LABEL_MAPS)}"
        ) from None
