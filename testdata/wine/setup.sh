#!/usr/bin/env bash
# Prepares Wine to run cairn's Windows test binaries (make test-windows):
#   1. installs Debian's wine64 and gcc-mingw-w64-x86-64 when missing;
#   2. builds bcryptprimitives.dll from ProcessPrng.c (Go 1.22+ calls ProcessPrng,
#      which Wine 8.0 lacks);
#   3. initialises a Wine prefix under the cache folder and copies the DLL into its
#      system32.
# It is idempotent and returns at once when everything is in place. It prints the
# prefix's path on its last line (WINEPREFIX=...), for the caller to export.
# CAIRN_WINE_DIR overrides the folder (default ~/.cache/cairn-test/wine).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${CAIRN_WINE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cairn-test/wine}"
prefix="$dir/prefix"
dll="$dir/bcryptprimitives.dll"
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo

need=()
command -v wine >/dev/null || need+=(wine64 wine)
command -v x86_64-w64-mingw32-gcc >/dev/null || need+=(gcc-mingw-w64-x86-64)
if [ ${#need[@]} -gt 0 ]; then
	echo "setup.sh: installing ${need[*]}" >&2
	$sudo apt-get update -q >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${need[@]}" >&2
fi

mkdir -p "$dir"
if [ ! -f "$dll" ] || [ "$here/ProcessPrng.c" -nt "$dll" ]; then
	x86_64-w64-mingw32-gcc -shared -O2 -s -o "$dll.tmp" "$here/ProcessPrng.c" -ladvapi32
	mv "$dll.tmp" "$dll"
fi

export WINEPREFIX="$prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" WINEARCH=win64
sys32="$prefix/drive_c/windows/system32"
if [ ! -f "$prefix/system.reg" ] || [ ! -d "$sys32" ]; then
	echo "setup.sh: initialising the Wine prefix $prefix" >&2
	wineboot --init >&2 2>/dev/null || wine wineboot --init >&2
	wineserver -w
fi
if ! cmp -s "$dll" "$sys32/bcryptprimitives.dll"; then
	cp "$dll" "$sys32/bcryptprimitives.dll"
fi
echo "WINEPREFIX=$prefix"
