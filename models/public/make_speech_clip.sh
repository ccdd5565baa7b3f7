#!/bin/sh
# Writes the Silero VAD tests' clips, 16 kHz mono 16-bit: a spoken sentence (espeak-ng) between a second of silence on
# each side, with quiet white noise over all of it (speech and non-speech chunks in one clip).
#   speech_clip.wav       what the tests measure the speech probability on
#   calibration_clip.wav  another voice and sentence, to calibrate compression with (never measured on)
# Needs Debian's espeak-ng and sox. sox -R makes the noise repeatable, so the files are the same on every run.
set -e
here=$(dirname "$0")

clip() { # voice, sentence, output
    tmp=$(mktemp -d)
    espeak-ng -v "$1" -s 150 -w "$tmp/voice.wav" "$2"
    sox -R "$tmp/voice.wav" -r 16000 -c 1 -b 16 "$tmp/voice16.wav"
    sox -R "$tmp/voice16.wav" "$tmp/padded.wav" pad 1.0 1.0
    length=$(soxi -D "$tmp/padded.wav")
    sox -R -n -r 16000 -c 1 -b 16 "$tmp/noise.wav" synth "$length" whitenoise vol 0.02
    sox -R -m "$tmp/padded.wav" "$tmp/noise.wav" -b 16 "$3"
    rm -r "$tmp"
    soxi "$3" | grep -E "Duration|Sample Rate"
}

clip en-us "The quick brown fox jumps over the lazy dog, and then it rests." "$here/speech_clip.wav"
clip en-gb "Please call Stella and ask her to bring these things with her from the store." "$here/calibration_clip.wav"
