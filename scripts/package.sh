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
mkdir -p "$deb/DEBIAN" "$deb/usr/lib/timbrel" "$deb/usr/lib/vst3/Timbrel.vst3/Contents/x86_64-linux" \
  "$deb/usr/lib/vst3/Timbrel.vst3/Contents/Resources" "$deb/usr/lib/lv2/Timbrel.lv2" "$deb/usr/bin" \
  "$deb/usr/share/doc/timbrel"
for lib in "${libs[@]}"; do cp "$vst3_bin/$lib" "$deb/usr/lib/timbrel/"; done
copy_models "$deb/usr/share/timbrel/models"
cp "$root/LICENSE" "$deb/usr/share/doc/timbrel/copyright"
cp "$root/THIRD_PARTY_NOTICES.md" "$deb/usr/share/doc/timbrel/"

# Plugin binaries find libtorch in /usr/lib/timbrel and models through a relative symlink.
cp "$vst3_bin/Timbrel.so" "$deb/usr/lib/vst3/Timbrel.vst3/Contents/x86_64-linux/"
patchelf --set-rpath '$ORIGIN/../../../../timbrel' "$deb/usr/lib/vst3/Timbrel.vst3/Contents/x86_64-linux/Timbrel.so"
ln -s ../../../../../share/timbrel/models "$deb/usr/lib/vst3/Timbrel.vst3/Contents/Resources/models"
cp "$dist/Timbrel.lv2/"*.ttl "$dist/Timbrel.lv2/libTimbrel.so" "$deb/usr/lib/lv2/Timbrel.lv2/"
patchelf --set-rpath '$ORIGIN/../../timbrel' "$deb/usr/lib/lv2/Timbrel.lv2/libTimbrel.so"
ln -s ../../../share/timbrel/models "$deb/usr/lib/lv2/Timbrel.lv2/models"
cp "$dist/Timbrel/Timbrel" "$deb/usr/lib/timbrel/Timbrel" # RUNPATH $ORIGIN: the libraries beside it
ln -s ../../share/timbrel/models "$deb/usr/lib/timbrel/models"
ln -s ../lib/timbrel/Timbrel "$deb/usr/bin/timbrel"

# Depends: the Debian packages that own the system libraries the binaries link.
depends=$(for binary in "$deb/usr/lib/vst3/Timbrel.vst3/Contents/x86_64-linux/Timbrel.so" "$deb/usr/lib/timbrel/Timbrel"; do
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
Description: neural timbre plugin with descriptor faders (VST3, LV2, Standalone)
 Timbrel re-synthesises its input with a streaming audio model trained on another
 instrument, and turns the descriptors the model is conditioned on (loudness, pitch,
 spectral centroid, bandwidth, flatness) into automatable faders. Bundles libtorch.
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
cp -al "$dist/Timbrel.vst3" "$dist/Timbrel.lv2" "$dist/Timbrel" "$tree/" 2>/dev/null \
  || cp -a "$dist/Timbrel.vst3" "$dist/Timbrel.lv2" "$dist/Timbrel" "$tree/"
rm -rf "$tree/Timbrel.vst3/Contents/Resources/models" "$tree/Timbrel.lv2/models" "$tree/Timbrel/models"
copy_models "$tree/models"
cp "$root/installer/linux/install.sh" "$tree/"
cp "$root/LICENSE" "$root/THIRD_PARTY_NOTICES.md" "$tree/"
tar -C "$work" -czf "$out/$name.tar.gz" "$name"
echo "package: $out/$name.tar.gz ($(du -h "$out/$name.tar.gz" | cut -f1))"
