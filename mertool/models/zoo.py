"""Imports every architecture module so their ``@register_model`` builders run (see :mod:`.registry`)."""

from mertool.models import abn, baselines, dfr_net, dual_branch, handcrafted, resnet  # noqa: F401
