"""fpliif: parameter-efficient face parsing at any output resolution (FP-LIIF, Sarkar et al., CVPR 2023)."""

__version__ = "0.1.0"

from .config import FPLIIFConfig  # noqa: E402
from .detect import DetectedFace, FaceDetector  # noqa: E402
from .hub import from_pretrained, push_to_hub, save_pretrained  # noqa: E402
from .labels import CELEBAMASK_HQ, HELEN, LAPA, LabelSet, get_label_set  # noqa: E402
from .models import FPLIIF, build_model, create_model, list_models, model_config, register_model  # noqa: E402
from .parser import FaceParser, ParseResult  # noqa: E402
from .pretrained import DEFAULT_PRETRAINED, PretrainedModel, register_pretrained  # noqa: E402

__all__ = [
    "__version__", "FPLIIFConfig", "FPLIIF", "FaceParser", "ParseResult", "FaceDetector", "DetectedFace",
    "create_model", "list_models", "model_config", "build_model", "register_model",
    "DEFAULT_PRETRAINED", "PretrainedModel", "register_pretrained",
    "from_pretrained", "save_pretrained", "push_to_hub",
    "LabelSet", "get_label_set", "CELEBAMASK_HQ", "LAPA", "HELEN",
]
