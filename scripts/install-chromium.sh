#!/bin/sh
# Debian's Chromium for the browser tests (Playwright drives it; no browser is ever downloaded by
# Playwright itself). Does nothing when /usr/bin/chromium is already there.
set -eu

if [ -x /usr/bin/chromium ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo -n"
fi
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confold chromium fonts-dejavu-core
/usr/bin/chromium --version >/dev/null
