# Timbrel. The two commands a fresh machine needs: `make demo` and `make test` (each runs setup).
SHELL := /bin/bash
.DEFAULT_GOAL := build

VENV   := .venv
PY     := $(VENV)/bin/python
BUILD  := build
DIST   := dist
JOBS   ?= $(shell nproc)
STAMPS := .stamps

.PHONY: setup build rave-exports validate test test-native test-python test-sanitize fuzz demo bench bench-soak bench-synth models timbres screenshot package check-platforms clean

setup: $(STAMPS)/apt $(STAMPS)/venv

$(STAMPS)/apt: scripts/setup_apt.sh
	bash scripts/setup_apt.sh
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/venv: constraints.txt requirements.txt training/pyproject.toml tools/pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -r requirements.txt
	$(PY) -m pip install -q -c constraints.txt -e 'training[hosts]' -e tools
	@mkdir -p $(STAMPS) && touch $@

$(BUILD)/CMakeCache.txt: $(STAMPS)/apt $(STAMPS)/venv
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DPython3_EXECUTABLE=$(abspath $(PY))

build: setup $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)
	bash scripts/assemble_dist.sh $(BUILD) $(DIST) $(PY)

test-native: build
	cd $(BUILD) && ctest --output-on-failure

# Real RAVE exports for tests/test_rave_exports.py: acids-rave 2.3.1 in a venv of its own
# (.venv-rave, Python 3.11), small untrained models exported by RAVE's own code (scripts/rave/).
RAVE_EXPORTS := $(BUILD)/rave
$(RAVE_EXPORTS)/exports.json: scripts/rave/make_exports.sh scripts/rave/make_exports.py scripts/rave/requirements.txt
	bash scripts/rave/make_exports.sh $(RAVE_EXPORTS)

rave-exports: $(RAVE_EXPORTS)/exports.json

test-python: build rave-exports
	$(PY) -m pytest tests training/tests -q

test: test-native test-python

# The model loader fuzzed: FUZZ_INPUTS (10,000) mutated model files from every test and broken
# model, seeded (FUZZ_SEED); the figures go to bench/fuzz.json. ctest runs 300 of them.
FUZZ_INPUTS ?= 10000
FUZZ_SEED ?= 1
fuzz: build
	mkdir -p bench
	$(BUILD)/plugin/engine/timbrel_model_fuzz --inputs $(FUZZ_INPUTS) --seed $(FUZZ_SEED) --report bench/fuzz.json \
	  $(BUILD)/models/*.ts $(BUILD)/models/broken/*.ts --hangs $(BUILD)/models/broken/hangs/*.ts

# The engine tests and the native hosts with ASan+UBSan, then TSan, in build-asan/ and
# build-tsan/ (scripts/test_sanitize.sh; SANITIZE=asan or tsan for one of them).
test-sanitize: build
	bash scripts/test_sanitize.sh $(PY) $(or $(SANITIZE),all)

demo: build
	$(PY) -m timbrel_tools demo --out demo

# BENCH_ARGS, e.g. "--seconds 3 --paced-seconds 30 --models violin" for a quicker run.
bench: build
	$(PY) -m timbrel_tools bench --out bench $(BENCH_ARGS)

# 16 instances of mixed models and modes in one real-time host, then an hour's paced soak of the
# default model (underruns, callback p99.9, memory over time: bench/soak.json and soak.png).
# SOAK_ARGS, e.g. "--minutes 5" for a quicker run.
bench-soak: build
	$(PY) -m timbrel_tools soak --out bench $(SOAK_ARGS)

# Timbrel Synth on melodies no model saw, through the built plugin: raw pitch (mir_eval, pyin) and
# timbre recognition per timbre against issue 32's targets (bench/synth_eval.json; about an hour
# on 2 cores). SYNTH_EVAL_ARGS, e.g. "violin --clips 3" for a quicker run.
bench-synth: build
	$(PY) -m timbrel_tools synth-eval --out bench/synth_eval.json $(SYNTH_EVAL_ARGS)

# Steinberg's VST3 validator (extensive) and pluginval (strictness 10) on the built bundle:
# VST3_VALIDATOR and PLUGINVAL name the binaries (scripts/run_validators.sh says how to build them).
validate: build
	bash scripts/run_validators.sh $(DIST)/Timbrel.vst3

# The editor with the many-instrument model, fed a short phrase: docs/screenshot.png. A FluidR3
# flute phrase, pitch shifted down 5 semitones, played by the timbre section: snapshot A the
# violin, B captured from the phrase, morphed half way; the shipped models appear in the picker.
# docs/screenshot-synth.png: Timbrel Synth's editor with the same model, a chord held, violin
# morphed a third of the way towards flute.
screenshot: build
	mkdir -p $(BUILD)/screenshot/Timbrel && ln -sfn $(abspath models) $(BUILD)/screenshot/Timbrel/models
	$(PY) -c "import soundfile; from timbrel.training.soundfont import demo_phrase; \
	  soundfile.write('$(BUILD)/screenshot/phrase.wav', demo_phrase('flute', 44100), 44100)"
	XDG_DATA_HOME=$(abspath $(BUILD)/screenshot) $(BUILD)/tests/native/timbrel_editor_snapshot --model timbres \
	  --input $(BUILD)/screenshot/phrase.wav --seconds 7 --set pitch_shift=-5 --set timbre_source=1 --set morph=0.5 \
	  --capture B --out docs/screenshot.png
	XDG_DATA_HOME=$(abspath $(BUILD)/screenshot) $(BUILD)/tests/native/timbrel_synth_editor_snapshot --model timbres \
	  --notes 55,62,67,71 --seconds 2 --set timbre_a=1 --set timbre_b=6 --set morph=0.35 --out docs/screenshot-synth.png

# Linux packages in packages/: a .deb and a .tar.gz with install.sh (scripts/package.sh).
package: build
	bash scripts/package.sh $(DIST) packages

# Retrains the shipped models from scratch (about 45 minutes per pair of models on 2 cores).
models: setup
	mkdir -p runs
	bash scripts/make_models.sh $(abspath $(PY))

# The many-instrument model, an hour at a time (scripts/make_timbres.sh: resumable).
timbres: setup
	mkdir -p runs
	bash scripts/make_timbres.sh $(abspath $(PY))

# The macOS and Windows build paths against their pinned torch wheels (downloaded once, about
# 230 MB, into build/platform-wheels): TorchConfig.cmake, headers, the libraries each bundle carries
# and what they load (tests/test_platforms.py; plain `make test` runs the rest of that file).
check-platforms: setup
	TIMBREL_PLATFORM_WHEELS=1 $(PY) -m pytest tests/test_platforms.py -q

clean:
	rm -rf $(BUILD) $(DIST) build-asan build-tsan demo bench packages
