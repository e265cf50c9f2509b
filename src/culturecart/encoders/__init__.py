"""Text and image encoders behind one interface, with offline pretrained models, fallbacks and a cache.

Example:
    >>> from culturecart.encoders import encode
    >>> emb = encode(["kaos merah", "red t-shirt"], "char-hash", cache=False)
    >>> emb.vectors.shape, emb.mask.all()
    ((2, 256), np.True_)
"""

from culturecart.encoders.base import Encoder, EncoderUnavailable, ImageReadError
from culturecart.encoders.cache import EmbeddingCache, default_cache_dir
from culturecart.encoders.config import EncoderConfig, EncodersConfig
from culturecart.encoders.encode import Embeddings, encode
from culturecart.encoders.registry import ENCODERS, EncoderSpec, encoder_names, get_encoder, shared_encoder

__all__ = [
    "ENCODERS",
    "EmbeddingCache",
    "Embeddings",
    "Encoder",
    "EncoderConfig",
    "EncoderSpec",
    "EncoderUnavailable",
    "EncodersConfig",
    "ImageReadError",
    "default_cache_dir",
    "encode",
    "encoder_names",
    "get_encoder",
    "shared_encoder",
]
