#!/usr/bin/python3
"""Log-mel features of the ASR sample (numpy only). The C# side reproduces them.

``features(samples)`` takes the int16 samples of an 8 kHz mono WAV and returns a
float32 array [frames, 40]. Every step is computed in float64 and only the result is
rounded to float32:

 1. x[i] = sample[i] / 32768.  No dithering, no pre-emphasis, no DC removal.
 2. If len(x) < 200, x is padded with zeros at the end to 200 samples.
    frames T = 1 + (len(x) - 200) // 80; frame t is x[80 t : 80 t + 200]
    (25 ms frames, 10 ms hop; the samples after the last full frame are dropped).
 3. Each frame is multiplied by the periodic Hann window
    w[i] = 0.5 - 0.5 cos(2 pi i / 200), i = 0..199,
    zero-padded to 256 samples, and transformed with a 256-point DFT
    X[k] = sum_n x[n] exp(-2 pi j k n / 256), k = 0..128 (no scaling).
 4. Power P[k] = Re(X[k])^2 + Im(X[k])^2.
 5. 40 triangular mel filters (HTK mel scale, no area normalisation):
    mel(f) = 2595 log10(1 + f / 700),  hz(m) = 700 (10^(m / 2595) - 1);
    42 edge frequencies e[i] = hz(i * mel(4000) / 41), i = 0..41 (e[0] = 0, e[41] = 4000);
    bin frequencies f[k] = k * 8000 / 256, k = 0..128;
    filter m = 0..39: W[m, k] = max(0, min((f[k] - e[m]) / (e[m+1] - e[m]),
                                           (e[m+2] - f[k]) / (e[m+2] - e[m+1]))).
    E[t, m] = sum_k W[m, k] P[t, k].
 6. L[t, m] = ln(max(E[t, m], 1e-10)).
 7. Per-utterance mean and variance normalisation of each of the 40 dimensions over
    the T frames: mu[m] = mean_t L[t, m], sd[m] = sqrt(mean_t (L[t, m] - mu[m])^2)
    (population standard deviation), F[t, m] = (L[t, m] - mu[m]) / (sd[m] + 1e-5).
 8. F is cast to float32: the model input, [T, 40] (batch axis added in front).

Self-test / reference data:
  /usr/bin/python3 scripts/features.py WAV...            prints shapes and a checksum
"""
import sys

import numpy as np

SAMPLE_RATE = 8000
FRAME = 200
HOP = 80
NFFT = 256
NMELS = 40
FMAX = 4000.0
LOG_FLOOR = 1e-10
NORM_EPS = 1e-5


def hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank():
    """W [40, 129] float64 (step 5)."""
    edges = mel_to_hz(np.arange(NMELS + 2) * (hz_to_mel(FMAX) / (NMELS + 1)))
    freqs = np.arange(NFFT // 2 + 1) * (SAMPLE_RATE / NFFT)
    W = np.zeros((NMELS, NFFT // 2 + 1))
    for m in range(NMELS):
        lo, c, hi = edges[m], edges[m + 1], edges[m + 2]
        W[m] = np.maximum(0.0, np.minimum((freqs - lo) / (c - lo), (hi - freqs) / (hi - c)))
    return W


def hann_periodic():
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(FRAME) / FRAME)


def log_mel(samples):
    """Steps 1-6: un-normalised log-mel energies [T, 40], float64."""
    x = np.asarray(samples, dtype=np.float64) / 32768.0
    if len(x) < FRAME:
        x = np.concatenate([x, np.zeros(FRAME - len(x))])
    T = 1 + (len(x) - FRAME) // HOP
    idx = np.arange(T)[:, None] * HOP + np.arange(FRAME)[None, :]
    spec = np.fft.rfft(x[idx] * hann_periodic(), n=NFFT, axis=1)
    power = spec.real ** 2 + spec.imag ** 2
    return np.log(np.maximum(power @ mel_filterbank().T, LOG_FLOOR))


def normalise(L):
    """Step 7."""
    mu = L.mean(axis=0)
    sd = np.sqrt(((L - mu) ** 2).mean(axis=0))
    return (L - mu) / (sd + NORM_EPS)


def features(samples):
    """int16 samples (8 kHz mono) -> float32 [T, 40] model input."""
    return normalise(log_mel(samples)).astype(np.float32)


def num_frames(num_samples):
    return 1 + (max(num_samples, FRAME) - FRAME) // HOP


if __name__ == "__main__":
    import wave
    for p in sys.argv[1:]:
        with wave.open(p, "rb") as w:
            assert w.getframerate() == SAMPLE_RATE and w.getsampwidth() == 2 and w.getnchannels() == 1, p
            s = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        f = features(s)
        print("%s: %d samples -> %s, sum %.6f, sum|x| %.6f" % (p, len(s), f.shape, f.sum(), np.abs(f).sum()))
