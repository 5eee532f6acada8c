#!/bin/sh
# Debian's Redis server for the distributed chaos campaign's Celery broker; does nothing when
# redis-server is already installed. The campaign runs its own server on a free loopback port with
# every setting on the command line, so the package's own service must not be started by the install:
# RUNLEVEL=1 makes Debian's invoke-rc.d skip starting it (there is no init system on CI machines either).
set -eu

if command -v redis-server >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo -n"
fi
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confold redis-server
command -v redis-server >/dev/null
