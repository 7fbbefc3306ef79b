"""A width-configurable multi-scale waveform critic for small GAN configs.

Paper-scale recipes use SpeechBrain's ``HifiganDiscriminator`` (multi-period +
multi-scale, ~70 M parameters). That is far too heavy for CPU toy runs and
tests, and its widths are fixed, so tiny configs use this MelGAN-style
multi-scale critic instead. It follows SpeechBrain's convention: ``forward``
returns ``(scores, feats)`` (a score tensor and a list of feature maps per
sub-discriminator), so SpeechBrain's ``GeneratorLoss`` / ``DiscriminatorLoss``
apply unchanged.
"""

from torch import nn


class ScaleCritic(nn.Module):
    """Strided grouped 1-D convolutions over a waveform at one scale.

    Arguments
    ---------
    channels : int
        Channels of the first layer (doubles each downsampling layer).
    max_channels : int
        Channel cap.
    layers : int
        Strided (×4) layers.

    Example
    -------
    >>> import torch
    >>> critic = ScaleCritic(channels=8, max_channels=32, layers=2)
    >>> score, feats = critic(torch.randn(2, 1, 4000))
    >>> score.shape[:2], len(feats)
    (torch.Size([2, 1]), 5)
    """

    def __init__(self, channels=16, max_channels=256, layers=3):
        super().__init__()
        norm = nn.utils.parametrizations.weight_norm
        convs = [norm(nn.Conv1d(1, channels, 15, padding=7))]
        ch = channels
        for _ in range(layers):
            out = min(ch * 2, max_channels)
            groups = max(1, min(ch, out) // 4)
            convs.append(norm(nn.Conv1d(ch, out, 41, 4, padding=20, groups=groups)))
            ch = out
        convs.append(norm(nn.Conv1d(ch, ch, 5, padding=2)))
        self.convs = nn.ModuleList(convs)
        self.out = norm(nn.Conv1d(ch, 1, 3, padding=1))

    def forward(self, x):
        """``x``: ``[B, 1, S]`` → (score ``[B, 1, S']``, feature maps)."""
        feats = []
        for conv in self.convs:
            x = nn.functional.leaky_relu(conv(x), 0.2)
            feats.append(x)
        score = self.out(x)
        feats.append(score)
        return score, feats


class MultiScaleCritic(nn.Module):
    """:class:`ScaleCritic` s on the waveform and its ×2, ×4… average-pooled copies.

    Arguments
    ---------
    scales : int
        Number of sub-discriminators.
    channels, max_channels, layers : int
        Passed to each :class:`ScaleCritic`.

    Example
    -------
    >>> import torch
    >>> d = MultiScaleCritic(scales=2, channels=8, max_channels=16, layers=2)
    >>> scores, feats = d(torch.randn(3, 1, 9600))
    >>> len(scores), scores[0].shape[0], len(feats[1])
    (2, 3, 5)
    """

    def __init__(self, scales=3, channels=16, max_channels=256, layers=3):
        super().__init__()
        self.critics = nn.ModuleList(
            ScaleCritic(channels, max_channels, layers) for _ in range(scales)
        )
        self.pool = nn.AvgPool1d(4, 2, padding=1, count_include_pad=False)

    def forward(self, x):
        """``x``: ``[B, 1, S]`` → (list of scores, list of feature-map lists)."""
        scores, feats = [], []
        for i, critic in enumerate(self.critics):
            if i > 0:
                x = self.pool(x)
            score, feat = critic(x)
            scores.append(score)
            feats.append(feat)
        return scores, feats
