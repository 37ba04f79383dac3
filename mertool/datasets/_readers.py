"""Imports every reader module so that each registers itself (see base.register)."""

from mertool.datasets import (  # noqa: F401
    casme,
    casme2,
    casme3,
    casme_sq,
    ckplus,
    megc2019,
    mmew,
    rafdb,
    samm,
    smic,
    widerface,
)
