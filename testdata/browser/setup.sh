#!/usr/bin/env bash
# Installs Debian's chromium for the dashboard's browser tests (httpapi/browser)
# when it is missing, with sudo when not root. It is idempotent and returns at once
# when chromium is on the PATH. It prints chromium's path on its last line.
set -euo pipefail
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo

if ! command -v chromium >/dev/null; then
	echo "setup.sh: installing chromium" >&2
	$sudo apt-get update -q >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core >&2
fi
command -v chromium
