#!/bin/sh
# Writes models/public/speech_clip.wav: a spoken sentence (espeak-ng) between stretches of silence, with quiet white
# noise over all of it, 16 kHz mono 16-bit, for the Silero VAD tests (speech and non-speech chunks in one clip).
# Needs Debian's espeak-ng and sox. sox -R makes the noise repeatable, so the file is the same on every run.
set -e
here=$(dirname "$0")
tmp=$(mktemp -d)
espeak-ng -v en-us -s 150 -w "$tmp/voice.wav" "The quick brown fox jumps over the lazy dog, and then it rests."
sox -R "$tmp/voice.wav" -r 16000 -c 1 -b 16 "$tmp/voice16.wav"
sox -R "$tmp/voice16.wav" "$tmp/padded.wav" pad 1.0 1.0
length=$(soxi -D "$tmp/padded.wav")
sox -R -n -r 16000 -c 1 -b 16 "$tmp/noise.wav" synth "$length" whitenoise vol 0.02
sox -R -m "$tmp/padded.wav" "$tmp/noise.wav" -b 16 "$here/speech_clip.wav"
rm -r "$tmp"
soxi "$here/speech_clip.wav" | grep -E "Duration|Sample Rate"
