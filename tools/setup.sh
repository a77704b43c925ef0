#!/bin/sh
# One-time set-up shared by `make demo` and `make test`: the Debian libraries Qt needs
# offscreen (plus the broker and rotator daemons the tests start), then a virtual
# environment in .venv with rfhound installed from setup.cfg.
set -eu
cd "$(dirname "$0")/.."

need_debs="libgl1 libegl1 libglib2.0-0 libfontconfig1 libdbus-1-3 libxkbcommon0 libxkbcommon-x11-0"
if [ "${1:-}" = "--test" ]; then
    need_debs="$need_debs mosquitto libhamlib-utils openssl"
fi
missing=""
for deb in $need_debs; do
    dpkg-query -W -f='${Status}' "$deb" 2>/dev/null | grep -q "ok installed" || missing="$missing $deb"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
        echo "setup: installing Debian packages:$missing"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
    else
        echo "setup: missing Debian packages:$missing" >&2
        echo "setup: run 'sudo apt-get install$missing' and try again" >&2
        exit 1
    fi
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.rfhound-installed
if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "setup: installing rfhound and its dependencies into .venv"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[test]"
    touch "$stamp"
fi
