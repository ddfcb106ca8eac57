#!/usr/bin/env bash
# Linux packages from the assembled bundles in dist/ (scripts/assemble_dist.sh):
#   OUT/timbrel_VERSION_amd64.deb               VST3 in /usr/lib/vst3, LV2 in /usr/lib/lv2, the
#                                               Standalone as /usr/bin/timbrel, libtorch once in
#                                               /usr/lib/timbrel, models in /usr/share/timbrel/models
#   OUT/timbrel-VERSION-linux-x86_64.tar.gz     self-contained bundles + install.sh for ~/.vst3,
#                                               ~/.lv2, ~/.local and the user models folder
#
#   scripts/package.sh DIST_DIR OUT_DIR
# Every path inside the .deb is relative ($ORIGIN RUNPATHs, relative symlinks), so an
# extracted package runs from any root: tests/test_package.py loads it from a temporary one.
set -euo pipefail
dist=${1:?usage: package.sh DIST_DIR OUT_DIR}
out=${2:?usage: package.sh DIST_DIR OUT_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
version=$(sed -n 's/^project(Timbrel VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
vst3_bin="$dist/Timbrel.vst3/Contents/x86_64-linux"
[ -f "$vst3_bin/Timbrel.so" ] || { echo "package: $dist has no Timbrel.vst3 (run make build)" >&2; exit 1; }
libs=()
for f in "$vst3_bin"/lib*.so*; do libs+=("$(basename "$f")"); done

mkdir -p "$out"
work=$(mktemp -d "$out/.package.XXXXXX") # beside the output: hard links work, cleanup is local
trap 'rm -rf "$work"' EXIT

copy_models() { # destination folder
  mkdir -p "$1"
  find "$root/models" -maxdepth 1 \( -name '*.ts' -o -name '*.json' -o -name '*.md' -o -name DEFAULT \) -exec cp {} "$1/" \;
}

# ---------------------------------------------------------------------------------------------
# .deb
deb="$work/deb"
mkdir -p "$deb/DEBIAN" "$deb/usr/lib/timbrel" "$deb/usr/bin" "$deb/usr/share/doc/timbrel"
for lib in "${libs[@]}"; do cp "$vst3_bin/$lib" "$deb/usr/lib/timbrel/"; done
copy_models "$deb/usr/share/timbrel/models"
cp "$root/LICENSE" "$deb/usr/share/doc/timbrel/copyright"
cp "$root/THIRD_PARTY_NOTICES.md" "$deb/usr/share/doc/timbrel/"

# Plugin binaries find libtorch in /usr/lib/timbrel and models through a relative symlink.
# ($ORIGIN in single quotes: it is for the dynamic loader, not the shell.) Both plugins: the
# effect (Timbrel, Standalone as `timbrel`) and the instrument (TimbrelSynth, `timbrel-synth`).
deb_plugin() { # NAME LAUNCHER
  local name=$1 launcher=$2
  local vst3="$deb/usr/lib/vst3/$name.vst3/Contents"
  mkdir -p "$vst3/x86_64-linux" "$vst3/Resources" "$deb/usr/lib/lv2/$name.lv2"
  cp "$dist/$name.vst3/Contents/x86_64-linux/$name.so" "$vst3/x86_64-linux/"
  # shellcheck disable=SC2016
  patchelf --set-rpath '$ORIGIN/../../../../timbrel' "$vst3/x86_64-linux/$name.so"
  ln -s ../../../../../share/timbrel/models "$vst3/Resources/models"
  cp "$dist/$name.lv2/"*.ttl "$dist/$name.lv2/lib$name.so" "$deb/usr/lib/lv2/$name.lv2/"
  # shellcheck disable=SC2016
  patchelf --set-rpath '$ORIGIN/../../timbrel' "$deb/usr/lib/lv2/$name.lv2/lib$name.so"
  ln -s ../../../share/timbrel/models "$deb/usr/lib/lv2/$name.lv2/models"
  cp "$dist/$name/$name" "$deb/usr/lib/timbrel/$name" # RUNPATH $ORIGIN: the libraries beside it
  ln -s "../lib/timbrel/$name" "$deb/usr/bin/$launcher"
}
deb_plugin Timbrel timbrel
deb_plugin TimbrelSynth timbrel-synth
ln -s ../../share/timbrel/models "$deb/usr/lib/timbrel/models"

# Depends: the Debian packages that own the system libraries the binaries link.
depends=$(for binary in "$deb/usr/lib/vst3/Timbrel.vst3/Contents/x86_64-linux/Timbrel.so" "$deb/usr/lib/timbrel/Timbrel" \
                      "$deb/usr/lib/timbrel/TimbrelSynth"; do
    LD_LIBRARY_PATH="$deb/usr/lib/timbrel" ldd "$binary" | awk '$3 ~ /^\// {print $3}'
  done | grep -v "^$deb" | sort -u | while read -r lib; do
    dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null || true
  done | cut -d: -f1 | sort -u | paste -sd, | sed 's/,/, /g')
cat > "$deb/DEBIAN/control" <<EOF
Package: timbrel
Version: $version
Architecture: amd64
Maintainer: Timbrel developers <timbrel@invalid.example>
Section: sound
Priority: optional
Depends: ${depends:-libc6}
Installed-Size: $(du -sk --apparent-size "$deb/usr" | cut -f1)
Homepage: https://timbrel.invalid/
Description: neural timbre plugins: an effect with descriptor faders and a synth (VST3, LV2, Standalone)
 Timbrel re-synthesises its input with a streaming audio model trained on another
 instrument, and turns the descriptors the model is conditioned on (loudness, pitch,
 spectral centroid, bandwidth, flatness) into automatable faders. Bundles libtorch.
 Timbrel Synth plays the same models from MIDI (polyphonic, MPE).
 Models are in /usr/share/timbrel/models; user models go in ~/.local/share/Timbrel/models.
EOF
dpkg-deb --root-owner-group -Zzstd --build "$deb" "$out/timbrel_${version}_amd64.deb" >/dev/null
echo "package: $out/timbrel_${version}_amd64.deb ($(du -h "$out/timbrel_${version}_amd64.deb" | cut -f1))"

# ---------------------------------------------------------------------------------------------
# .tar.gz: the dist bundles (libraries hard-linked between them: tar stores them once), the
# models once, and an install script.
name="timbrel-$version-linux-x86_64"
tree="$work/$name"
mkdir -p "$tree"
bundles=("$dist/Timbrel.vst3" "$dist/Timbrel.lv2" "$dist/Timbrel" "$dist/TimbrelSynth.vst3" "$dist/TimbrelSynth.lv2"
         "$dist/TimbrelSynth")
cp -al "${bundles[@]}" "$tree/" 2>/dev/null || cp -a "${bundles[@]}" "$tree/"
rm -rf "$tree"/Timbrel*.vst3/Contents/Resources/models "$tree"/Timbrel*.lv2/models "$tree/Timbrel/models" \
  "$tree/TimbrelSynth/models"
copy_models "$tree/models"
cp "$root/installer/linux/install.sh" "$tree/"
cp "$root/LICENSE" "$root/THIRD_PARTY_NOTICES.md" "$tree/"
tar -C "$work" -czf "$out/$name.tar.gz" "$name"
echo "package: $out/$name.tar.gz ($(du -h "$out/$name.tar.gz" | cut -f1))"
