#!/usr/bin/env bash
# macOS: builds both plugins (Timbrel, TimbrelSynth) as VST3, AU and Standalone, assembles
# self-contained bundles (libtorch in Contents/Frameworks, the models in Contents/Resources/models,
# signed ad hoc: scripts/assemble_dist.cmake) and wraps them in one installer package
# (pkgbuild + productbuild): plugins into /Library/Audio/Plug-Ins, the apps into /Applications.
#   installer/macos/build_pkg.sh [OUT_DIR]          run from the repository root on a Mac
# Environment: PYTHON (a venv with torch==2.13.0; default .venv/bin/python), BUILD_DIR
# (build-macos), DIST_DIR (dist-macos), SKIP_BUILD=1 to package an existing build,
# CMAKE_ARGS (extra configure arguments, e.g. -DTIMBREL_DOWNLOAD_CACHE=...).
# UNTESTED: no Mac has run this (installer/README.md); .github/workflows/macos.yml runs it.
# Needs the Xcode command-line tools, CMake >= 3.24, pkg-config and libsamplerate (Homebrew).
# JUCE 7.0.5 is fetched by CMake unless TIMBREL_JUCE_DIR names a checkout.
set -euo pipefail
out=${1:-packages}
root=$(pwd)
python=${PYTHON:-$root/.venv/bin/python}
build=${BUILD_DIR:-build-macos}
dist=${DIST_DIR:-dist-macos}
version=$(sed -n 's/^project(Timbrel VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  # shellcheck disable=SC2086 # CMAKE_ARGS is a list of arguments
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DPython3_EXECUTABLE="$python" \
    -DCMAKE_OSX_ARCHITECTURES="$(uname -m)" ${CMAKE_ARGS:-}
  cmake --build "$build" --target Timbrel_All TimbrelSynth_All -j"$(sysctl -n hw.ncpu)"
fi
cmake -DBUILD_DIR="$build" -DDIST_DIR="$dist" -DPYTHON="$python" -P scripts/assemble_dist.cmake

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/vst3" "$stage/au" "$stage/app"
for name in Timbrel TimbrelSynth; do
  cp -R "$dist/$name.vst3" "$stage/vst3/"
  cp -R "$dist/$name.component" "$stage/au/"
  cp -R "$dist/$name.app" "$stage/app/"
done

# pkgbuild makes bundles relocatable by default (an update would follow a copy the user moved
# elsewhere): the plugins must land where hosts look for them.
component_pkg() { # kind identifier install_location
  local kind=$1 identifier=$2 location=$3 plist="$stage/$1.plist" i=0
  pkgbuild --analyze --root "$stage/$kind" "$plist"
  while /usr/libexec/PlistBuddy -c "Set :$i:BundleIsRelocatable false" "$plist" 2>/dev/null; do
    i=$((i + 1))
  done
  pkgbuild --root "$stage/$kind" --component-plist "$plist" --identifier "$identifier" \
    --version "$version" --install-location "$location" "$stage/timbrel-$kind.pkg"
}
component_pkg vst3 org.timbrel.vst3 /Library/Audio/Plug-Ins/VST3
component_pkg au org.timbrel.au /Library/Audio/Plug-Ins/Components
component_pkg app org.timbrel.app /Applications

mkdir -p "$out"
productbuild --package "$stage/timbrel-vst3.pkg" --package "$stage/timbrel-au.pkg" \
  --package "$stage/timbrel-app.pkg" "$out/Timbrel-$version-macos.pkg"
echo "wrote $out/Timbrel-$version-macos.pkg"
cat <<'NOTE'
The package is not notarised. If macOS refuses it ("cannot be opened because the developer
cannot be verified"), right-click > Open the .pkg, or after installing clear the quarantine:
  xattr -dr com.apple.quarantine /Library/Audio/Plug-Ins/VST3/Timbrel*.vst3 \
    /Library/Audio/Plug-Ins/Components/Timbrel*.component /Applications/Timbrel*.app
NOTE
