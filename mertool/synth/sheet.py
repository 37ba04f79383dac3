"""A contact sheet of synthetic clips: one clip per AU pattern, onset / apex / offset frames, the
true displacement at apex (magnitude, arrows, the AU regions' outline) and |apex - onset|.

    python -m mertool.synth.sheet demo/synth/synth_truth.h5 docs/figures/synth_clip.png

``make synth-sheet`` generates a small set and draws docs/figures/synth_clip.png with it.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np

from mertool.store import schema as S
from mertool.synth import truth as T

ARROW_GAIN = 6
DPI = 100
ORDER = (
    "happiness",
    "positive",
    "surprise",
    "disgust",
    "repression",
    "anger",
    "contempt",
    "sadness",
    "negative",
)


def pick_clips(truth_path: str | Path) -> list[str]:
    """One clip per AU pattern, patterns in :data:`ORDER`: all from the first subject that has
    every pattern when there is one (so the rows compare like with like), else the first clip
    (by id) of each pattern."""
    table = T.truth_table(truth_path)
    first: dict[str, str] = {}
    by_subject: dict[tuple[str, str], dict[str, str]] = {}
    for sid in sorted(table):
        pattern = table[sid][T.A_PATTERN]
        first.setdefault(pattern, sid)
        key = (table[sid][S.A_DATASET], table[sid][S.A_SUBJECT])
        by_subject.setdefault(key, {}).setdefault(pattern, sid)
    for clips in by_subject.values():
        if clips.keys() == first.keys():
            first = clips
            break
    return [first[p] for p in sorted(first, key=lambda p: ORDER.index(p) if p in ORDER else len(ORDER))]


def _face_window(landmarks: np.ndarray, shape: tuple[int, int]) -> tuple[slice, slice]:
    """A square crop around the face (forehead and chin included)."""
    lo, hi = landmarks.min(axis=0), landmarks.max(axis=0)
    c = (lo + hi) / 2 - np.array([0.0, 0.12 * (hi[1] - lo[1])])
    half = 0.75 * max(hi - lo)
    H, W = shape
    x0, y0 = int(max(0, c[0] - half)), int(max(0, c[1] - half))
    x1, y1 = int(min(W, c[0] + half)), int(min(H, c[1] + half))
    return slice(y0, y1), slice(x0, x1)


def draw_sheet(truth_path: str | Path, out_png: str | Path, sample_ids: list[str] | None = None) -> Path:
    """Draw the contact sheet of ``sample_ids`` (default: :func:`pick_clips`) to ``out_png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mertool.datasets.frames import read_image

    ids = sample_ids or pick_clips(truth_path)
    cols = ("onset", "apex", "offset", "displacement at apex (px)", "|apex - onset| x 6")
    fig, axes = plt.subplots(len(ids), len(cols), figsize=(2.3 * len(cols), 2.45 * len(ids)), squeeze=False)
    for r, sid in enumerate(ids):
        clip = T.load_clip(
            truth_path,
            sid,
            (T.D_DISPLACEMENT, T.D_MASK, T.D_PROFILE, T.D_LANDMARKS, "frame_paths", "frame_numbers"),
        )
        attrs = clip["attrs"]
        numbers = list(clip["frame_numbers"])
        k = int(np.argmax(clip[T.D_PROFILE]))
        frames = [read_image(clip["frame_paths"][i], sid) for i in (0, k, len(numbers) - 1)]
        sy, sx = _face_window(clip[T.D_LANDMARKS], frames[0].shape[:2])
        disp = clip[T.D_DISPLACEMENT][k]
        mag = np.sqrt((disp**2).sum(axis=-1))
        diff = np.abs(frames[1].astype(np.float32) - frames[0].astype(np.float32))
        if diff.ndim == 3:
            diff = diff.mean(axis=-1)
        panels = [f[sy, sx] for f in frames]
        titles = [f"onset {numbers[0]}", f"apex {numbers[k]}", f"offset {numbers[-1]}"]
        for c, (img, title) in enumerate(zip(panels, titles)):
            ax = axes[r, c]
            ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
            ax.set_title(title, fontsize=8)
        ax = axes[r, 3]
        im = ax.imshow(mag[sy, sx], cmap="magma", vmin=0)
        ax.contour(clip[T.D_MASK][sy, sx], levels=[0.5], colors="cyan", linewidths=0.6)
        step = max(4, (sx.stop - sx.start) // 14)
        yy, xx = np.mgrid[0 : sy.stop - sy.start : step, 0 : sx.stop - sx.start : step]
        d = disp[sy, sx][::step, ::step]
        keep = np.sqrt((d**2).sum(-1)) > 0.1 * mag.max()
        ax.quiver(
            xx[keep], yy[keep], d[..., 0][keep], d[..., 1][keep], color="white", angles="xy",
            scale_units="xy", scale=1 / ARROW_GAIN, width=0.014, headwidth=3.5,
        )  # fmt: skip
        ax.set_title(f"peak {mag.max():.1f} px", fontsize=8)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02).ax.tick_params(labelsize=6)
        axes[r, 4].imshow(np.clip(diff[sy, sx] * 6, 0, 255).astype(np.uint8), cmap="gray", vmin=0, vmax=255)
        axes[r, 4].set_title("|apex - onset| x 6", fontsize=8)
        label = f"{attrs['emotion']}\nAU {'+'.join(attrs['aus'])}\n{sid.split('/', 1)[1]}"
        axes[r, 0].set_ylabel(label, fontsize=8)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(
        f"mertool synth: one clip per class (arrows: true displacement x{ARROW_GAIN}; cyan: AU regions)",
        fontsize=9,
    )
    fig.tight_layout()
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    fig.savefig(buf, dpi=DPI, format="png")
    plt.close(fig)
    # a 256-colour palette keeps the README figure small (a third of the size) and looks the same
    from PIL import Image

    buf.seek(0)
    Image.open(buf).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)
    return out


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m mertool.synth.sheet TRUTH.h5 OUT.png", file=sys.stderr)
        return 2
    print(draw_sheet(args[0], args[1]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
