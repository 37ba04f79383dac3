"""Parameters and GFLOPs of the detector YAMLs, counted by ultralytics itself.

Layers, parameters and GFLOPs are counted as ultralytics' ``model.info()`` counts them for the
built (not fused) model: leaf modules, parameter elements, and ``get_flops`` (the THOP profiler). The published
reference is YOLOv8s as ultralytics documents it: 11.2M parameters, 28.6 GFLOPs at 640x640 with
the 80 COCO classes; our YAMLs have one class, which removes ~0.03M parameters from the head.
"""

from __future__ import annotations

from mertool.detector import CFG_DIR

PUBLISHED = {"model": "YOLOv8s", "params_m": 11.2, "gflops": 28.6, "imgsz": 640, "classes": 80}


def model_complexity(yaml_path, imgsz: int = 640) -> dict:
    """``{"layers", "params", "params_m", "gflops"}`` of the model a YAML builds (not fused)."""
    from mertool.detector.registration import register

    register()
    from ultralytics.nn.tasks import DetectionModel
    from ultralytics.utils.torch_utils import get_flops

    model = DetectionModel(str(yaml_path), verbose=False)
    layers = sum(1 for m in model.modules() if len(m._modules) == 0)  # leaf modules, as model.info counts
    params = sum(p.numel() for p in model.parameters())
    gflops = get_flops(model, imgsz)
    return {
        "layers": int(layers),
        "params": int(params),
        "params_m": params / 1e6,
        "gflops": float(gflops),
    }


def model_table(imgsz: int = 640) -> list[dict]:
    """One row per shipped model: name, description, YAML file, layers, params, GFLOPs."""
    from mertool.detector.train import VARIANTS

    rows = []
    for name, (yaml_name, what) in VARIANTS.items():
        rows.append(
            {"model": name, "what": what, "yaml": yaml_name, **model_complexity(CFG_DIR / yaml_name, imgsz)}
        )
    return rows
