#!/usr/bin/env bash
# Regenerate the widened test voice set in tests/data/voices/ (committed outputs).
#
# Synthetic voices from espeak-ng (many variants and English accents, some with pitch
# flags) and flite (all its built-in voices), each ~3-4 s of speech, 16 kHz mono FLAC,
# plus voices.json with each file's intended sex. Needs: espeak-ng, flite, sox.
# Noise, silence and music-like signals are generated inside the tests instead.
set -euo pipefail
cd "$(dirname "$0")/voices"
rm -f ./*.flac voices.json

TEXTS=(
  "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background."
  "It is easy to tell the depth of a well. These days a chicken leg is a rare dish."
  "Rice is often served in round bowls. The juice of lemons makes fine punch."
  "The box was thrown beside the parked truck. The hogs were fed chopped corn and garbage."
  "Four hours of steady work faced us. A large size in stockings is hard to sell."
  "The boy was there when the sun rose. A rod is used to catch pink salmon."
  "The source of the huge river is the clear spring. Kick the ball straight and follow through."
  "Help the woman get back to her feet. A pot of tea helps to pass the evening."
)
n=0
entries=()

finish() {  # finish RAW NAME SEX ENGINE: trim to <= 4 s, 16 kHz mono 16-bit FLAC
  local raw=$1 name=$2 sex=$3 engine=$4
  sox -D "$raw" -r 16000 -c 1 -b 16 "$name.flac" silence 1 0.05 0.5% trim 0 3.6 norm -3
  rm -f "$raw"
  entries+=("    \"$name.flac\": {\"sex\": \"$sex\", \"engine\": \"$engine\"}")
}

espeak() {  # espeak NAME SEX VOICE [extra espeak-ng flags...]
  local name=$1 sex=$2 voice=$3
  shift 3
  local text=${TEXTS[$((n % ${#TEXTS[@]}))]}
  n=$((n + 1))
  espeak-ng -v "$voice" -s 165 "$@" -w tmp.wav "$text"
  finish tmp.wav "$name" "$sex" "espeak-ng $voice $*"
}

flite_voice() {  # flite_voice NAME SEX VOICE [extra flite flags...]
  local name=$1 sex=$2 voice=$3
  shift 3
  local text=${TEXTS[$((n % ${#TEXTS[@]}))]}
  n=$((n + 1))
  flite -voice "$voice" "$@" -t "$text" -o tmp.wav
  finish tmp.wav "$name" "$sex" "flite $voice $*"
}

# espeak-ng male variants and accents
espeak espeak_m2_us male en-us+m2
espeak espeak_m4_gb male en+m4
espeak espeak_m6_scotland male en-gb-scotland+m6
espeak espeak_m8_caribbean male en-029+m8
espeak espeak_andy_us male en-us+Andy
espeak espeak_lee_rp male en-gb-x-rp+Lee
espeak espeak_denis_nyc male en-us-nyc+Denis
espeak espeak_michel_gb male en+michel
espeak espeak_travis_us male en-us+travis
espeak espeak_victor_lancaster male en-gb-x-gbclan+victor
espeak espeak_sandro_midlands male en-gb-x-gbcwmd+sandro
espeak espeak_antonio_us male en-us+antonio
espeak espeak_grandpa_gb male en+grandpa
espeak espeak_m3_highpitch male en-us+m3 -p 65
espeak espeak_m7_lowpitch male en+m7 -p 30
espeak espeak_m1_slow male en-gb-scotland+m1 -s 130
# espeak-ng female variants and accents
espeak espeak_f3_us female en-us+f3
espeak espeak_f3_gb female en+f3
espeak espeak_f1_scotland female en-gb-scotland+f1
espeak espeak_f2_caribbean female en-029+f2
espeak espeak_f4_rp female en-gb-x-rp+f4
espeak espeak_f5_nyc female en-us-nyc+f5
espeak espeak_alicia_us female en-us+Alicia
espeak espeak_andrea_gb female en+Andrea
espeak espeak_annie_us female en-us+Annie
espeak espeak_belinda_gb female en+belinda
espeak espeak_linda_lancaster female en-gb-x-gbclan+linda
espeak espeak_steph_us female en-us+steph
espeak espeak_aunty_midlands female en-gb-x-gbcwmd+aunty
espeak espeak_grandma_gb female en+grandma
espeak espeak_f2_lowpitch female en-us+f2 -p 35
espeak espeak_f4_highpitch female en+f4 -p 70
# flite: every built-in voice
flite_voice flite_kal male kal
flite_voice flite_kal16 male kal16
flite_voice flite_awb male awb
flite_voice flite_rms male rms
flite_voice flite_slt female slt
flite_voice flite_slt_b female slt
flite_voice flite_slt_high female slt --setf int_f0_target_mean=200
flite_voice flite_rms_b male rms

{
  echo "{"
  echo "  \"about\": \"Widened synthetic test voices (tests/data/make_voices.sh): espeak-ng variants and accents, flite voices; 16 kHz mono FLAC, <= 4 s. 'sex' is the voice's intended presentation.\","
  echo "  \"voices\": {"
  for i in "${!entries[@]}"; do
    sep=","
    [[ $i -eq $((${#entries[@]} - 1)) ]] && sep=""
    echo "${entries[$i]}$sep"
  done
  echo "  }"
  echo "}"
} > voices.json
du -ch ./*.flac | tail -1
