#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The two plugin validators hosts' vendors use, on the built VST3 bundle (make validate):
#   VST3_VALIDATOR  Steinberg's `validator` from the VST3 SDK (public.sdk/samples/vst-hosting/validator;
#                   SDK 3.7.14 builds with -DSMTG_ENABLE_VSTGUI_SUPPORT=OFF; target `validator`)
#   PLUGINVAL       Tracktion's pluginval (1.0.3 builds against Debian's JUCE 7.0.5 with
#                   find_package(JUCE), LADSPA, FLAC and Ogg off)
# Neither is in Debian or PyPI, so neither runs in CI; docs/benchmarks.md's Measured table has the
# last results. Exits non-zero when either finds a failure.
set -euo pipefail
BUNDLE=${1:-dist/Timbrel.vst3}
: "${VST3_VALIDATOR:?set VST3_VALIDATOR to the path of the Steinberg validator binary}"
: "${PLUGINVAL:?set PLUGINVAL to the pluginval binary}"

echo "== Steinberg validator, extensive mode"
"$VST3_VALIDATOR" -e "$BUNDLE" | tee /tmp/timbrel-validator.txt | grep -E "^\s*Result|\[Failed\]" || true
grep -q "0 tests failed" /tmp/timbrel-validator.txt

echo "== pluginval, strictness 10, editor tests (under Xvfb when there is no display)"
runner=()
if [ -z "${DISPLAY:-}" ] && command -v xvfb-run >/dev/null; then runner=(xvfb-run -a); fi
"${runner[@]}" "$PLUGINVAL" --strictness-level 10 --vst3validator "$VST3_VALIDATOR" --validate "$BUNDLE"
echo "== both validators passed"
