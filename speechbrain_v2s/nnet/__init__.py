"""Neural building blocks of speechbrain-v2s (models take tensors, not files)."""

from speechbrain_v2s.nnet.decoders import MelDecoder, WaveDecoder
from speechbrain_v2s.nnet.encoders import AudioEncoder, MelEncoder, VideoEncoder
from speechbrain_v2s.nnet.model import LoadReport, V2SModel
from speechbrain_v2s.nnet.normalization import CrossModalBatchNorm
from speechbrain_v2s.nnet.speaker import SpeakerConditioner, SpeakerEmbedder
from speechbrain_v2s.nnet.temporal import TemporalModule
from speechbrain_v2s.nnet.vocoder import MelVocoder, build_vocoder

__all__ = [
    "AudioEncoder",
    "CrossModalBatchNorm",
    "LoadReport",
    "MelDecoder",
    "MelEncoder",
    "MelVocoder",
    "SpeakerConditioner",
    "SpeakerEmbedder",
    "TemporalModule",
    "V2SModel",
    "VideoEncoder",
    "WaveDecoder",
    "build_vocoder",
]
