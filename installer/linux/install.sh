#!/usr/bin/env bash
# Installs Timbrel (the effect) and Timbrel Synth (the instrument) for the current user from this
# unpacked archive: ~/.vst3/Timbrel.vst3 and TimbrelSynth.vst3, ~/.lv2/Timbrel.lv2 and
# TimbrelSynth.lv2, ~/.local/lib/timbrel and timbrel-synth (Standalones) with ~/.local/bin/timbrel
# and timbrel-synth, and the models in ${XDG_DATA_HOME:-~/.local/share}/Timbrel/models.
#   ./install.sh [--no-vst3] [--no-lv2] [--no-standalone]     install (replacing an older one)
#   ./install.sh --uninstall                                   remove all of it (user models stay)
# The bundles carry libtorch (about 440 MB); the second and third install hard-link it from the
# first when they are on the same file system.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
home=${HOME:?HOME is not set}
data=${XDG_DATA_HOME:-$home/.local/share}
models=$data/Timbrel/models
# Each plugin: NAME, the launcher's name.
plugins=("Timbrel timbrel" "TimbrelSynth timbrel-synth")

want_vst3=1 want_lv2=1 want_standalone=1
for arg in "$@"; do
  case $arg in
    --no-vst3) want_vst3=0 ;;
    --no-lv2) want_lv2=0 ;;
    --no-standalone) want_standalone=0 ;;
    --uninstall)
      for plugin in "${plugins[@]}"; do
        read -r name command <<< "$plugin"
        rm -rf "$home/.vst3/$name.vst3" "$home/.lv2/$name.lv2" "$home/.local/lib/$command" "$home/.local/bin/$command"
      done
      for f in "$here"/models/*; do rm -f "$models/$(basename "$f")"; done
      echo "Timbrel removed (models you added to $models are kept)"
      exit 0 ;;
    *) echo "install.sh: unknown option $arg (see the top of this file)" >&2; exit 2 ;;
  esac
done

first=""
place() { # source destination: copy, hard-linking libraries from the first bundle placed
  local source=$1 destination=$2
  rm -rf "$destination.new"
  mkdir -p "$(dirname "$destination")"
  cp -a "$source" "$destination.new"
  if [ -n "$first" ]; then
    for lib in "$destination.new"/lib*.so* "$destination.new"/Contents/x86_64-linux/lib*.so*; do
      [ -f "$lib" ] || continue
      ln -f "$first/$(basename "$lib")" "$lib" 2>/dev/null || true
    done
  fi
  rm -rf "$destination"
  mv "$destination.new" "$destination"
}

for plugin in "${plugins[@]}"; do
  read -r name command <<< "$plugin"
  if [ "$want_vst3" = 1 ]; then
    place "$here/$name.vst3" "$home/.vst3/$name.vst3"
    [ -n "$first" ] || first=$home/.vst3/$name.vst3/Contents/x86_64-linux
    echo "VST3        $home/.vst3/$name.vst3"
  fi
  if [ "$want_lv2" = 1 ]; then
    place "$here/$name.lv2" "$home/.lv2/$name.lv2"
    [ -n "$first" ] || first=$home/.lv2/$name.lv2
    echo "LV2         $home/.lv2/$name.lv2"
  fi
  if [ "$want_standalone" = 1 ]; then
    place "$here/$name" "$home/.local/lib/$command"
    mkdir -p "$home/.local/bin"
    ln -sfn "$home/.local/lib/$command/$name" "$home/.local/bin/$command"
    echo "Standalone  $home/.local/bin/$command"
  fi
done
mkdir -p "$models"
cp "$here"/models/* "$models/"
echo "Models      $models (add your own .ts files here)"
