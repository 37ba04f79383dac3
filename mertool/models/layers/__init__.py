"""Reusable blocks, chosen by name: ``get_attn("se" | "cbam" | "ca" | "sa" | None, channels)``.

One module per block. Attention modules map (B, C, H, W) -> (B, C, H, W) and keep their last
attention map in ``.last_map`` (spatial maps (B, 1, H, W)) for ``mertool show``.
"""
