"""timbrel.models: the trainable models and what they are built from.

- blocks:         streaming building blocks (causal PQMF, cached convolutions) whose hop-by-hop
                  output equals one offline call
- conditioning:   what every model kind shares: descriptor metadata and normalisation, the
                  contract methods, the VAE's reparameterisation
- harmonic_noise: HarmonicNoiseModel, the descriptor-conditioned harmonic-plus-noise VAE Timbrel ships
- waveform:       WaveformModel, the RAVE-style PQMF waveform VAE (`--config waveform`)
- checkpoint:     building a model by config name, checkpoint files, source weights

Imports timbrel.format (the contract and the descriptor analysis), never training or hosts.
"""
