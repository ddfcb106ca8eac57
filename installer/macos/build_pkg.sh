#!/usr/bin/env bash
# macOS: builds the VST3 and AU, bundles libtorch and the models into each, signs them ad hoc
# and wraps them in one installer package (pkgbuild + productbuild).
#   installer/macos/build_pkg.sh [OUT_DIR]          run from the repository root on a Mac
# UNTESTED: there is no macOS machine in this project's CI. It follows Apple's documented
# tools; expect to fix paths on the first run. Needs Xcode command-line tools, CMake, JUCE 7
# (e.g. `brew install juce` or -DJUCE_DIR=...), and a venv with torch==2.13.0 (make setup).
set -euo pipefail
out=${1:-packages}
root=$(pwd)
python=${PYTHON:-$root/.venv/bin/python}
build=build-macos
version=$(sed -n 's/^project(Timbrel VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DPython3_EXECUTABLE="$python" -DCMAKE_OSX_ARCHITECTURES="$(uname -m)"
cmake --build "$build" --target Timbrel_VST3 Timbrel_AU -j"$(sysctl -n hw.ncpu)"

torch_lib=$("$python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
artefacts="$build/plugin/Timbrel_artefacts/Release"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

prepare_bundle() { # bundle binary
  local bundle=$1 binary=$2
  mkdir -p "$bundle/Contents/Frameworks" "$bundle/Contents/Resources/models"
  cp "$torch_lib"/libtorch.dylib "$torch_lib"/libtorch_cpu.dylib "$torch_lib"/libc10.dylib "$bundle/Contents/Frameworks/"
  [ -f "$torch_lib/libomp.dylib" ] && cp "$torch_lib/libomp.dylib" "$bundle/Contents/Frameworks/"
  # The plugin binary finds libtorch in its bundle, wherever the bundle is installed.
  install_name_tool -add_rpath "@loader_path/../Frameworks" "$binary"
  cp models/*.ts models/*.json models/*.md models/DEFAULT "$bundle/Contents/Resources/models/"
  # Ad hoc signature: enough for Apple silicon to load it; not notarised (see README).
  codesign --force --deep --sign - "$bundle"
}

mkdir -p "$stage/vst3" "$stage/au"
cp -R "$artefacts/VST3/Timbrel.vst3" "$stage/vst3/"
prepare_bundle "$stage/vst3/Timbrel.vst3" "$stage/vst3/Timbrel.vst3/Contents/MacOS/Timbrel"
cp -R "$artefacts/AU/Timbrel.component" "$stage/au/"
prepare_bundle "$stage/au/Timbrel.component" "$stage/au/Timbrel.component/Contents/MacOS/Timbrel"

pkgbuild --root "$stage/vst3" --identifier org.timbrel.vst3 --version "$version" \
  --install-location /Library/Audio/Plug-Ins/VST3 "$stage/timbrel-vst3.pkg"
pkgbuild --root "$stage/au" --identifier org.timbrel.au --version "$version" \
  --install-location /Library/Audio/Plug-Ins/Components "$stage/timbrel-au.pkg"
mkdir -p "$out"
productbuild --package "$stage/timbrel-vst3.pkg" --package "$stage/timbrel-au.pkg" "$out/Timbrel-$version-macos.pkg"
echo "wrote $out/Timbrel-$version-macos.pkg"
cat <<'NOTE'
The package is not notarised. If macOS refuses it ("cannot be opened because the developer
cannot be verified"), right-click > Open the .pkg, or after installing clear the quarantine:
  xattr -dr com.apple.quarantine /Library/Audio/Plug-Ins/VST3/Timbrel.vst3 \
    /Library/Audio/Plug-Ins/Components/Timbrel.component
NOTE
