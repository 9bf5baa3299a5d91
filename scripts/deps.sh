#!/bin/sh
# Installs, with apt-get, the Debian packages larder needs that are missing.
#   scripts/deps.sh build   what `make run` needs
#   scripts/deps.sh test    that plus what `make test` needs
set -eu

build="gcc make cmake pkg-config libevent-dev uthash-dev libcmocka-dev"
test="$build curl clang libclang-rt-14-dev python3 chromium fonts-dejavu-core prometheus"

case "${1:-build}" in
build) want=$build ;;
test)  want=$test ;;
*) echo "usage: $0 build|test" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "larder: missing packages:$missing (run as root, or: sudo apt-get install$missing)" >&2
    exit 1
fi
echo "larder: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends $missing >/dev/null 2>&1 || {
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends $missing >/dev/null
}
