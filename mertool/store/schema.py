"""The HDF5 sample-file schema: names every stage agrees on. Documented in docs/schema.md.

Layout of one file (one set of samples)::

    /                       root attributes: provenance (see :mod:`mertool.store.provenance`)
    /samples/<id>           one group per sample (clip); ``<id>`` is the stable sample id, whose
                            slashes make nested groups (``casme2/sub01/EP02_01f``). A group is a
                            sample group exactly when it carries the ``id`` attribute.
    /samples/<id>/<array>   datasets the stages added (chunked, compressed); names may nest
                            (``crops/face``).

Sample attributes are scalars (str, int, float, bool) or lists of them. A missing value (an
apex written ``/``, SMIC's absent apex) is an *absent attribute*, never a sentinel number.
Attributes whose names end in ``_json`` hold JSON text and are decoded on read.

Frame paths are stored relative to the sample's ``data_root`` (absolute), and read back through
:func:`mertool.store.paths.resolve_frame_paths` (remapped with ``--data-root`` / ``MERTOOL_DATA_ROOT``).

Frame numbers are the dataset's own absolute numbers (``img46.jpg`` is frame 46), never list
positions: ``onset``/``apex``/``offset`` attributes and the ``frame_numbers`` array use them.
"""

from __future__ import annotations

FORMAT_NAME = "mertool-samples"
FORMAT_VERSION = 1
#: Versions this code can read.
READABLE_VERSIONS = (1,)

SAMPLES_GROUP = "samples"

# --- stage names (root attribute ``stage``; ``history`` lists the earlier ones) ----------------
STAGE_FACES = "detect-faces"
STAGE_APEX = "spot-apex"
STAGE_ROIS = "crop-rois"
STAGE_FLOW = "flow"
STAGE_SYNTH_TRUTH = "synth-truth"
PIPELINE = (STAGE_FACES, STAGE_APEX, STAGE_ROIS, STAGE_FLOW)

# --- sample attributes (written from the dataset reader, copied forward by every stage) -------
A_ID = "id"
A_DATASET = "dataset"
A_SUBJECT = "subject"  # the LOSO key, normalised as in DATASETS.md section 12
A_CLIP = "clip"
A_EMOTION = "emotion"  # native emotion string, lower-cased
A_LABEL = "label"  # the label under A_LABEL_MAP (absent: excluded from that map)
A_LABEL_MAP = "label_map"
A_LABELS_JSON = "labels_json"  # {label_map_name: label or null} for every map that applies
A_ONSET = "onset"
A_APEX = "apex"  # the dataset's labelled apex frame number, when it has one
A_OFFSET = "offset"
A_FPS = "fps"
A_AUS = "aus"  # list of AU tokens as written ("4", "L10", "R12")
A_AUS_RAW = "aus_raw"
A_SPLIT = "split"  # fixed split of still-image datasets (RAF-DB "train"/"test"); absent for clips
A_VARIANT = "variant"  # reader variant (casme2 "raw"/"cropped", smic "HS"/"VIS"/"NIR")
A_STATUS = "status"  # "ok" or "failed"
A_ERROR = "error"  # why a failed sample failed (names the file where there is one)
A_WARNINGS = "warnings"  # list of non-fatal notes about this sample
A_DATA_ROOT = "data_root"  # absolute dataset root; frame_paths are relative to it (store/paths.py)
STATUS_OK = "ok"
STATUS_FAILED = "failed"

# --- arrays written from the dataset reader ------------------------------------------------------
D_FRAME_NUMBERS = "frame_numbers"  # (T,) int32, absolute frame numbers of the frames kept
D_FRAME_PATHS = "frame_paths"  # (T,) str, source image paths relative to A_DATA_ROOT

# --- detect-faces ------------------------------------------------------------------------------
D_FRAMES = "frames"  # (T, S, S) or (T, S, S, 3) uint8, aligned faces, RGB
D_BOXES = "boxes"  # (T, 4) float32 x0, y0, x1, y1 in source-frame pixels
D_LANDMARKS = "landmarks"  # (T, 68, 2) float32 x, y in source-frame pixels
D_LANDMARKS_ALIGNED = "landmarks_aligned"  # (T, 68, 2) float32 x, y in aligned-face pixels
D_ALIGN_MATRIX = "align_matrix"  # (2, 3) float32 source -> aligned similarity transform
D_REDETECTED = "redetected"  # (T,) bool, frames where the detector had to run again
A_FACE_SIZE = "face_size"
A_COLOR = "color"  # "rgb" or "gray"
A_DETECTOR = "detector"

# --- spot-apex ---------------------------------------------------------------------------------
A_APEX_SPOTTED = "apex_spotted"  # frame number chosen by the apex stage (what later stages use)
A_APEX_METHOD = "apex_method"
D_APEX_CURVE = "apex_curve"  # (T,) float32 per-frame score the method maximised

# --- crop-rois ---------------------------------------------------------------------------------
CROPS_GROUP = "crops"  # crops/<set>: face (K,S,S[,3]); rois15, au5, dc3 (K,R,s,s[,3]) uint8
D_CROP_FRAME_NUMBERS = "crop_frame_numbers"  # (K,) int32 which frames were cut
A_CROP_FRAMES = "crop_frames"  # list of role names, e.g. ["onset", "middle", "apex"]
ROI_BOXES_GROUP = "roi_boxes"  # roi_boxes/<set>: (K, R, 4) float32 boxes in aligned-face pixels
A_ROI_NAMES_JSON = "roi_names_json"  # {set: [region names in array order]}

# --- flow --------------------------------------------------------------------------------------
D_FLOW = "flow"  # (H, W, 2) float32 u, v in pixels, onset -> apex
D_STRAIN = "strain"  # (H, W) float32 optical strain magnitude (paper 004 eq. 7)
D_DIFF = "diff"  # (H, W[, 3]) float32 |apex - onset| (paper 004 eq. 8), intensities in 0..1
D_ONSET_IMAGE = "onset_image"  # (H, W[, 3]) uint8
D_APEX_IMAGE = "apex_image"  # (H, W[, 3]) uint8
A_FLOW_METHOD = "flow_method"
A_FLOW_PARAMS_JSON = "flow_params_json"
A_NORMALIZATION = "normalization"

# --- synthetic ground truth (mertool synth writes it beside the tree) ---------------------------
D_TRUE_DISPLACEMENT = "displacement"  # (T, H, W, 2) float32 per-frame displacement, source pixels
A_TRUE_APEX = "true_apex"

# --- what a reader may rely on (checked when a sample is read: store/samplefile.py) -------------
#: Attribute -> the kind of value it must hold: "int" (a frame number: an integer, not a bool),
#: "number", "str", "strs" (a list of strings), "status" (ok / failed), "color" (rgb / gray).
ATTR_KINDS = {
    A_ID: "str",
    A_STATUS: "status",
    A_ERROR: "str",
    A_DATASET: "str",
    A_SUBJECT: "str",
    A_CLIP: "str",
    A_LABEL_MAP: "str",
    A_DATA_ROOT: "str",
    A_ONSET: "int",
    A_APEX: "int",
    A_OFFSET: "int",
    A_APEX_SPOTTED: "int",
    A_FACE_SIZE: "int",
    A_FPS: "number",
    A_COLOR: "color",
    A_WARNINGS: "strs",
    A_AUS: "strs",
}
#: Array -> (allowed numbers of dimensions, allowed numpy dtype kinds, the axis that counts frames
#: (or None)). "T" arrays of one sample must agree on their frame count.
ARRAY_RULES = {
    D_FRAME_NUMBERS: ((1,), "iu", 0),
    D_FRAME_PATHS: ((1,), "OSU", 0),
    D_FRAMES: ((3, 4), "u", 0),
    D_BOXES: ((2,), "fiu", 0),
    D_LANDMARKS: ((2, 3), "fiu", None),  # (T, 68, 2) from detect-faces; (68, 2) in synth truth
    D_LANDMARKS_ALIGNED: ((3,), "fiu", 0),
    D_ALIGN_MATRIX: ((2, 3), "fiu", None),
    D_REDETECTED: ((1,), "biu", 0),
    D_APEX_CURVE: ((1,), "fiu", None),
    D_CROP_FRAME_NUMBERS: ((1,), "iu", None),
    D_FLOW: ((3,), "f", None),
    D_STRAIN: ((2,), "f", None),
    D_DIFF: ((2, 3), "f", None),
    D_ONSET_IMAGE: ((2, 3), "u", None),
    D_APEX_IMAGE: ((2, 3), "u", None),
}
