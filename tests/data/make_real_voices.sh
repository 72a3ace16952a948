#!/usr/bin/env bash
# Build the real-speech evaluation set in tests/data/real_voices/ (not committed; ~8 MB).
#
# Recorded human speakers from Debian packages (Asterisk telephone prompts in five
# languages, codec2's reference recordings) and one PyPI sdist (pysptk's CMU ARCTIC
# sample); who each speaker is, their documented sex, language and the tune / held-out
# split by speaker are in real_speakers.json. Needs apt-get and dpkg-deb (Debian), network
# access to the Debian and PyPI registries on the first run (packages are cached in
# real_voices/cache, so a rebuild is offline) and the project's venv.
# Usage: bash tests/data/make_real_voices.sh [PYTHON]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
py="${1:-$root/.venv/bin/python}"
cd "$root"
PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" "$py" "$here/build_real_voices.py" --out "$here/real_voices"
