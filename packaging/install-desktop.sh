#!/bin/sh
# Install the desktop entry and icons for the current user
# (after `pip install posebooth`, so that `posebooth` is on PATH).
set -e
here=$(dirname "$0")
data=${XDG_DATA_HOME:-$HOME/.local/share}
for size in 16 24 32 48 64 128 256 512; do
    mkdir -p "$data/icons/hicolor/${size}x${size}/apps"
    cp "$here/../posebooth/resources/app/posebooth-$size.png" "$data/icons/hicolor/${size}x${size}/apps/posebooth.png"
done
mkdir -p "$data/icons/hicolor/scalable/apps" "$data/applications"
cp "$here/../posebooth/resources/app/posebooth.svg" "$data/icons/hicolor/scalable/apps/posebooth.svg"
cp "$here/posebooth.desktop" "$data/applications/posebooth.desktop"
command -v update-desktop-database >/dev/null && update-desktop-database "$data/applications" || true
echo "PoseBooth installed in the applications menu."
