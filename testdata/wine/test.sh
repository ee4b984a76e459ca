#!/usr/bin/env bash
# make test-windows: cairn's Windows test binaries, run for real under Wine.
#
# Cross-compiles (GOOS=windows go test -c) the test binaries of the packages that touch
# files, the database and the local transport, plus cairn.exe (for the tests that
# start cairn as a process) and rest-server.exe (for those that need a REST server),
# then runs the binaries one at a time under Wine, each in its package folder as go
# test would, with a timeout. setup.sh prepares Wine first.
#
# The binaries are built with the tag "wine" and -checklinkname=0 so that
# transport/winegap can fill a gap of Wine 8.0 (see its doc.go); nothing else differs
# from a Windows build.
#
# Tests left out, and why:
#   cmd/cairn TestServeStopsWhileClientsHang: it stops cairn serve with SIGTERM, and
#     Windows cannot send another process a signal (os.Process.Signal supports Kill
#     only); TestStopContextOutsideService covers how cairn stops on Windows.
#   cmd/cairn TestRestrictToUser, TestServeDaemonPassword: they check that the
#     password file's ACL lets in its user alone, and Wine 8.0 answers success to
#     SetNamedSecurityInfo and SetSecurityInfo on a file but applies nothing (the file
#     keeps the DACL Wine derives from its Unix mode, Everyone included), so the check
#     fails under Wine whatever cairn does. They run on Windows itself.
#   cmd/cairn TestCrashSafety, TestConcurrentBackupsAndPrune: built for Linux only
#     (inotify, SIGKILL at chosen points).
#   engine TestScenario/minio, TestCopyToMinIO: skipped by the test itself, as there is
#     no MinIO server for Windows and no Go toolchain under Wine to build one (set
#     MINIO_SERVER to a minio.exe to run them); the other transports of the scenario run.
#   cmd/cairn TestBackupFromCommand, TestPasswordCommand, TestCompletionScripts: skipped
#     by the tests on Windows, as they run sh, cat and bash; TestBackupFromCommandWindows
#     and TestPasswordCommandWindows run the same habits through cmd.
#
# WINE_PACKAGES, WINE_RUN (a -test.run pattern) and WINE_TIMEOUT (per binary) override.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
go="${GO:-go}"
packages="${WINE_PACKAGES:-repo transport/local engine/localdb engine cmd/cairn}"
timeout="${WINE_TIMEOUT:-20m}"

eval "export $(testdata/wine/setup.sh | tail -n 1)"
export WINEDEBUG=-all
out="$root/bin/windows"
mkdir -p "$out"

# A Unix path as Wine's Z: drive shows it.
winpath() { local p="${1//\//\\}"; printf 'Z:%s' "$p"; }

echo "build cairn.exe, rest-server.exe and the test binaries"
GOOS=windows GOARCH=amd64 "$go" build -o "$out/cairn.exe" ./cmd/cairn
(cd testdata/tools && GOOS=windows GOARCH=amd64 GOEXPERIMENT= "$go" build -o "$out/rest-server.exe" github.com/restic/rest-server/cmd/rest-server)
for p in $packages; do
	GOOS=windows GOARCH=amd64 "$go" test -c -tags wine -ldflags=-checklinkname=0 -o "$out/${p//\//_}.test.exe" "./$p"
done

export CAIRN_BIN="$(winpath "$out/cairn.exe")" REST_SERVER="$(winpath "$out/rest-server.exe")"
failed=()
for p in $packages; do
	skip=""
	case "$p" in
	cmd/cairn) skip='^(TestServeStopsWhileClientsHang|TestRestrictToUser|TestServeDaemonPassword)$' ;;
	esac
	args=(-test.timeout "$timeout")
	[ -n "$skip" ] && args+=(-test.skip "$skip")
	[ -n "${WINE_RUN:-}" ] && args+=(-test.run "$WINE_RUN")
	echo "wine $p"
	start=$SECONDS
	if (cd "$p" && timeout --kill-after=30s "$timeout" wine "$out/${p//\//_}.test.exe" "${args[@]}"); then
		echo "ok   $p under Wine ($((SECONDS - start)) s)"
	else
		echo "FAIL $p under Wine ($((SECONDS - start)) s)"
		failed+=("$p")
	fi
done
wineserver -k 2>/dev/null || true
if [ ${#failed[@]} -gt 0 ]; then
	echo "failed under Wine: ${failed[*]}"
	exit 1
fi
