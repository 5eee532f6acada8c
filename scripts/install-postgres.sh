#!/bin/sh
# Debian's PostgreSQL 15 server for the chaos campaign's metadata DB; does nothing when a server is
# already installed. The campaign runs its own throwaway cluster, so the package must not create (and
# start) the usual "main" cluster: createcluster.conf says so before the install, unless the machine
# already has one of its own.
set -eu

if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo -n"
fi
if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    $SUDO mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.conf >/dev/null
fi
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confold postgresql-15
ls /usr/lib/postgresql/*/bin/initdb >/dev/null
