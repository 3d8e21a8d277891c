"""EnCodec-style neural audio codec (SEANet + residual VQ) and its upstream checkpoint loaders.

Entry points: ``load(path)`` -> a :class:`Codec` with ``encode(wave[B,1,T]) -> codes[B,n_q,F]``,
``decode(codes) -> wave``, ``latents(wave) -> [B,F,D]``, ``sample_rate``, ``n_q``, ``frame_rate``;
``save(codec, dir)``; ``CodecConfig.from_name(name, **overrides)`` for the named configs
(``tiny``, ``encodec_32khz``).
"""

from pipeline.codec.config import CodecConfig, CodecConfigError
from pipeline.codec.keymap import CodecCheckpointError
from pipeline.codec.load import load, save
from pipeline.codec.model import Codec, CodecInputError, CodecSampleRateError

__all__ = [
    "Codec",
    "CodecCheckpointError",
    "CodecConfig",
    "CodecConfigError",
    "CodecInputError",
    "CodecSampleRateError",
    "load",
    "save",
]
