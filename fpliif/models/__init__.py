"""Networks: the FP-LIIF encoder and LIIF decoder, and the registry of named variants."""

from .decoder import DecoderState, LIIFDecoder, make_coord
from .encoder import Encoder
from .flip import TTA_MODES, FlipEnsemble, with_tta
from .fpliif import FPLIIF
from .registry import build_model, create_model, list_models, model_config, register_model

__all__ = [
    "FPLIIF", "Encoder", "LIIFDecoder", "DecoderState", "make_coord", "FlipEnsemble", "TTA_MODES", "with_tta",
    "build_model", "create_model", "list_models", "model_config", "register_model",
]
