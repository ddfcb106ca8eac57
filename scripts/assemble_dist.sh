#!/usr/bin/env bash
# Assembles self-contained plugin bundles in dist/ from the CMake artefacts: libtorch copied
# next to each plugin binary (RUNPATH $ORIGIN) and the models inside each bundle, so a bundle
# loads from any path with an empty environment.
#
#   scripts/assemble_dist.sh BUILD_DIR DIST_DIR PYTHON
set -euo pipefail
build=$1 dist=$2 python=$3
artefacts="$build/plugin/Timbrel_artefacts/Release"
torch_lib=$("$python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
libs=(libtorch.so libtorch_cpu.so libc10.so libgomp.so.1)
root=$(cd "$(dirname "$0")/.." && pwd)

rm -rf "$dist.tmp"
mkdir -p "$dist.tmp"

# Shipped models plus the build-time test model; hard links keep dist/ from tripling on disk.
models_stage="$dist.tmp/.models"
mkdir -p "$models_stage"
cp "$build/models/timbrel-test.ts" "$models_stage/"
find "$root/models" -maxdepth 1 \( -name '*.ts' -o -name '*.json' -o -name '*.md' -o -name DEFAULT \) \
  -exec cp {} "$models_stage/" \;
libs_stage="$dist.tmp/.libs"
mkdir -p "$libs_stage"
for lib in "${libs[@]}"; do cp "$torch_lib/$lib" "$libs_stage/"; done
# Debian libraries the engine links that a user's machine may lack (resampling).
for lib in libsamplerate.so.0; do
  path=$(ldd "$artefacts/VST3/Timbrel.vst3/Contents/x86_64-linux/Timbrel.so" | awk -v l="$lib" '$1 == l {print $3}')
  [ -n "$path" ] || { echo "assemble_dist: $lib not found (run make setup)" >&2; exit 1; }
  cp -L "$path" "$libs_stage/$lib"
  libs+=("$lib")
done

install_payload() { # binary_dir models_dir
  local binary_dir=$1 models_dir=$2
  for lib in "${libs[@]}"; do ln "$libs_stage/$lib" "$binary_dir/$lib"; done
  mkdir -p "$models_dir"
  for f in "$models_stage"/*; do ln "$f" "$models_dir/"; done
}

# VST3: Timbrel.vst3/Contents/x86_64-linux/Timbrel.so, models in Contents/Resources/models.
cp -r "$artefacts/VST3/Timbrel.vst3" "$dist.tmp/"
vst3_bin="$dist.tmp/Timbrel.vst3/Contents/x86_64-linux"
patchelf --set-rpath '$ORIGIN' "$vst3_bin/Timbrel.so"
install_payload "$vst3_bin" "$dist.tmp/Timbrel.vst3/Contents/Resources/models"

# LV2: Timbrel.lv2/libTimbrel.so beside its .ttl files, models in Timbrel.lv2/models.
if [ -d "$artefacts/LV2/Timbrel.lv2" ]; then
  cp -r "$artefacts/LV2/Timbrel.lv2" "$dist.tmp/"
  patchelf --set-rpath '$ORIGIN' "$dist.tmp/Timbrel.lv2/libTimbrel.so"
  install_payload "$dist.tmp/Timbrel.lv2" "$dist.tmp/Timbrel.lv2/models"
fi

# Standalone: a folder with the executable, its libraries and models.
mkdir -p "$dist.tmp/Timbrel"
cp "$artefacts/Standalone/Timbrel" "$dist.tmp/Timbrel/"
patchelf --set-rpath '$ORIGIN' "$dist.tmp/Timbrel/Timbrel"
install_payload "$dist.tmp/Timbrel" "$dist.tmp/Timbrel/models"

rm -rf "$models_stage" "$libs_stage"
rm -rf "$dist"
mv "$dist.tmp" "$dist"
echo "dist: $(du -sh --apparent-size "$dist/Timbrel.vst3" | cut -f1) per bundle (VST3, LV2, Standalone share files by hard link)"
