#!/usr/bin/env bash
# Bootstrap what lptrain needs on a Debian machine that has only Python 3.11:
#   bootstrap.sh venv        create .venv and install the pinned Python packages (pyproject.toml)
#   bootstrap.sh tools       system tools for simulation: Icarus, a C++ compiler, make, perl, ccache
#   bootstrap.sh osu018 DIR  the OSU 0.18 um liberty and cell models (Debian qflow-tech-osu018)
#   bootstrap.sh opensta     OpenSTA (Debian opensta)
# Installs with apt-get when root; otherwise stops with one line naming the missing package.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "error: $*" >&2; exit 1; }

apt_updated=0
apt_install() {  # apt_install PKG...: install Debian packages, or die naming them
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        die "missing Debian package(s) $*: install them (apt-get install $*) or rerun as root"
    fi
    if [ $apt_updated = 0 ]; then
        apt-get update -qq >/dev/null || die "apt-get update failed; cannot install $*"
        apt_updated=1
    fi
    echo "installing Debian package(s): $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null \
        || die "apt-get install $* failed"
}

need_cmd() {  # need_cmd COMMAND PACKAGE
    command -v "$1" >/dev/null || apt_install "$2"
    command -v "$1" >/dev/null || die "$1 still not found after installing $2"
}

case "${1:-}" in
venv)
    PY=${PYTHON:-python3}
    command -v "$PY" >/dev/null || die "$PY not found: install Python 3.11 (Debian package python3)"
    "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "Python >= 3.11 needed, $PY is $("$PY" --version 2>&1)"
    if [ ! -x .venv/bin/python ]; then
        "$PY" -m venv .venv 2>/dev/null || { rm -rf .venv; apt_install python3-venv; "$PY" -m venv .venv; }
    fi
    echo "installing pinned Python packages into .venv (first run: a few minutes)"
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null
    .venv/bin/python -m pip install -q -e . || die "pip install into .venv failed (see above)"
    ;;
tools)
    need_cmd iverilog iverilog
    need_cmd vvp iverilog
    need_cmd g++ g++
    need_cmd make make
    need_cmd perl perl
    need_cmd ccache ccache  # Verilator's C++ compiled once per machine (verif/harness.py)
    ;;
osu018)
    dir=${2:?usage: bootstrap.sh osu018 DIR}
    lib=$dir/osu018_stdcells.lib
    if [ ! -f "$lib" ]; then
        tmp=$(mktemp -d)
        trap 'rm -rf "$tmp"' EXIT
        # Only the two files are needed; installing the package would pull all of qflow.
        if ! (cd "$tmp" && apt-get download qflow-tech-osu018 >/dev/null 2>&1); then
            [ "$(id -u)" = 0 ] && apt-get update -qq >/dev/null 2>&1 || true
            (cd "$tmp" && apt-get download qflow-tech-osu018 >/dev/null 2>&1) \
                || die "cannot download Debian package qflow-tech-osu018 (needs apt-get and Debian's archive)"
        fi
        dpkg -x "$tmp"/qflow-tech-osu018_*.deb "$tmp/x"
        mkdir -p "$dir"
        cp "$tmp"/x/usr/share/qflow/tech/osu018/osu018_stdcells.{lib,v} "$dir"/
        dpkg-deb -f "$tmp"/qflow-tech-osu018_*.deb Version > "$dir"/VERSION  # recorded in synth reports
    fi
    ;;
opensta)
    need_cmd sta opensta
    ;;
*)
    die "usage: bootstrap.sh venv|tools|osu018 DIR|opensta"
    ;;
esac
