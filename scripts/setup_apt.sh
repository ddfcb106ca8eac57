#!/usr/bin/env bash
# Installs the Debian packages Timbrel builds and tests with. Idempotent: only missing
# packages are installed, so a machine that has them all does not touch apt at all.
set -euo pipefail

packages=(
  build-essential cmake pkg-config patchelf
  juce-modules-source                     # JUCE 7.0.5 modules + CMake config + juceaide
  libx11-dev libxext-dev libxcursor-dev libxrandr-dev libxinerama-dev
  libfreetype-dev libpng-dev libjpeg-dev zlib1g-dev libasound2-dev
  catch2                                  # engine unit tests (ctest)
  libsamplerate0-dev                      # host <-> model sample-rate conversion
  fluidsynth fluid-soundfont-gm           # demo input and training data (FluidR3_GM, MIT)
  musescore-general-soundfont-lossless    # a second sample set (MIT): the pitch benchmark, held-out checks
  lilv-utils                              # lv2ls/lv2info read the LV2 bundle as hosts do (bundle test)
  fonts-dejavu-core                       # text in the headless editor snapshot (JUCE finds fonts by fontconfig)
  shellcheck                              # every shell script linted (tests/test_platforms.py)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "apt: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "apt: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
