#!/usr/bin/env bash
# Assembles self-contained plugin bundles in dist/ from the CMake artefacts (the effect,
# Timbrel, and the instrument, TimbrelSynth): libtorch copied
# next to each plugin binary (RUNPATH $ORIGIN) and the models inside each bundle, so a bundle
# loads from any path with an empty environment.
#
#   [TIMBREL_PLUGINS="Timbrel TimbrelSynth"] scripts/assemble_dist.sh BUILD_DIR DIST_DIR PYTHON
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
extra_libs=(libsamplerate.so.0)
for lib in "${extra_libs[@]}"; do
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

# shellcheck disable=SC2016 # $ORIGIN is for the dynamic loader (RUNPATH), not the shell
origin='$ORIGIN'
assemble_plugin() { # NAME: the effect (Timbrel) or the instrument (TimbrelSynth)
  local name=$1 from="$build/plugin/$1_artefacts/Release"
  # VST3: NAME.vst3/Contents/x86_64-linux/NAME.so, models in Contents/Resources/models.
  cp -r "$from/VST3/$name.vst3" "$dist.tmp/"
  local vst3_bin="$dist.tmp/$name.vst3/Contents/x86_64-linux"
  patchelf --set-rpath "$origin" "$vst3_bin/$name.so"
  install_payload "$vst3_bin" "$dist.tmp/$name.vst3/Contents/Resources/models"
  # LV2: NAME.lv2/libNAME.so beside its .ttl files, models in NAME.lv2/models.
  if [ -d "$from/LV2/$name.lv2" ]; then
    cp -r "$from/LV2/$name.lv2" "$dist.tmp/"
    patchelf --set-rpath "$origin" "$dist.tmp/$name.lv2/lib$name.so"
    install_payload "$dist.tmp/$name.lv2" "$dist.tmp/$name.lv2/models"
  fi
  # Standalone: a folder with the executable, its libraries and models.
  mkdir -p "$dist.tmp/$name"
  cp "$from/Standalone/$name" "$dist.tmp/$name/"
  patchelf --set-rpath "$origin" "$dist.tmp/$name/$name"
  install_payload "$dist.tmp/$name" "$dist.tmp/$name/models"
}
# TIMBREL_PLUGINS: which to assemble (the sanitizer trees build the effect only).
for plugin in ${TIMBREL_PLUGINS:-Timbrel TimbrelSynth}; do
  assemble_plugin "$plugin"
done

rm -rf "$models_stage" "$libs_stage"
rm -rf "$dist"
mv "$dist.tmp" "$dist"
echo "dist: $(du -sh --apparent-size "$dist/Timbrel.vst3" | cut -f1) per bundle (Timbrel and TimbrelSynth; VST3, LV2, Standalone share files by hard link)"
