"""Imports every reader module so that each registers itself (see base.register; the long-video
readers ``*_long`` with long_videos.register_long)."""

from mertool.datasets import (  # noqa: F401
    casme,
    casme2,
    casme3,
    casme3_long,
    casme_sq,
    casme_sq_long,
    ckplus,
    megc2019,
    mmew,
    rafdb,
    samm,
    samm_long,
    smic,
    smic_e_long,
    widerface,
)
