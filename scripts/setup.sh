#!/usr/bin/env bash
# One-time (and every-time) preparation of a machine for minik8s: the pieces `make run` and
# `make test` need, each step cheap when already done so it can run before every command.
#
#   1. system packages: busybox-static (test image rootfs), iptables, iproute2, conntrack, openssl (TLS test certificates),
#      chromium (the web dashboard's test drives it headless through Playwright; no browser download)
#      (the node proxy), docker.io when no Docker engine is there, etcd-server and etcd-client (the etcd
#      storage backend's tests and `minik8s up --etcd`; no etcd system service is started);
#   2. a reachable Docker engine: started here (dockerd in the background) when we are root;
#   3. the local test images (tests/images/build.sh) -- no registry is reachable;
#   4. .venv with minik8s installed editable with its test extras.
#
# Environment: PYTHON picks the interpreter for .venv (3.11 or newer); MINIK8S_SKIP_DOCKER=1
# skips steps 2 and 3 (a machine that only runs unit tests).
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$(pwd)

log() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" -eq 0 ]; }

# --- 1. system packages ---------------------------------------------------------------------

apt_updated=0
apt_install() {
    # Installs only what dpkg does not already have; `apt-get update` at most once per run.
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null || die "missing packages ${missing[*]} and no apt-get to install them"
    is_root || die "missing packages ${missing[*]}: run as root, or: sudo apt-get install -y ${missing[*]}"
    log "installing ${missing[*]}"
    if [ "$apt_updated" -eq 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

docker_answers() { docker info >/dev/null 2>&1; }

packages=(busybox-static iptables iproute2 conntrack openssl chromium)
if [ "${MINIK8S_SKIP_DOCKER:-}" != 1 ] && ! { command -v docker >/dev/null && docker_answers; }; then
    # No engine answering: we need both the daemon and the client from Debian's docker.io.
    if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
        packages+=(docker.io)
    fi
fi
apt_install "${packages[@]}"

install_etcd() {
    # The package's postinst would start etcd.service on a systemd host: tests and `minik8s up
    # --etcd` start their own etcd on loopback ports and data dirs, so no service is wanted.
    # A policy-rc.d that refuses (101) is what Debian offers for exactly this, for the install only.
    local policy=/usr/sbin/policy-rc.d placed=0
    if is_root && [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && placed=1
    fi
    apt_install etcd-server etcd-client
    [ "$placed" -eq 1 ] && rm -f "$policy"
    return 0
}
install_etcd

# --- 2. a Docker engine ---------------------------------------------------------------------

start_dockerd() {
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
        log "starting docker.service"
        systemctl start docker
        return
    fi
    local logfile=/var/log/minik8s-dockerd.log
    log "starting dockerd in the background (log: $logfile)"
    # setsid: the daemon must outlive this script and the make/pytest that ran it.
    setsid dockerd >>"$logfile" 2>&1 </dev/null &
}

ensure_docker() {
    docker_answers && return 0
    is_root || die "no Docker engine answers and we are not root to start one (docker info fails)"
    if ! pgrep -x dockerd >/dev/null; then
        start_dockerd
    fi
    local i
    for i in $(seq 1 60); do
        docker_answers && { log "Docker engine is up"; return 0; }
        sleep 1
    done
    tail -n 20 /var/log/minik8s-dockerd.log >&2 2>/dev/null || true
    die "dockerd did not answer within 60s"
}

if [ "${MINIK8S_SKIP_DOCKER:-}" != 1 ]; then
    ensure_docker
    # --- 3. local images --------------------------------------------------------------------
    tests/images/build.sh
fi

# --- 4. the virtualenv ----------------------------------------------------------------------

pick_python() {
    local candidate
    for candidate in ${PYTHON:-} python3 python3.13 python3.12 python3.11; do
        command -v "$candidate" >/dev/null || continue
        if "$candidate" -c 'import sys, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

if [ ! -x .venv/bin/python ]; then
    python=$(pick_python) || {
        # Debian 12 ships 3.11 without ensurepip unless python3-venv is there; Ubuntu 22.04 has
        # python3.11 beside its default 3.10.
        if apt-cache show python3.11-venv >/dev/null 2>&1; then apt_install python3.11-venv; else apt_install python3-venv; fi
        python=$(pick_python) || die "need Python 3.11 or newer with venv (set PYTHON=...)"
    }
    log "creating .venv with $python"
    "$python" -m venv .venv
fi

# pip runs only when pyproject.toml changed since the last successful install.
stamp=.venv/.minik8s-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "pip install -e '.[test]'"
    .venv/bin/python -m pip install -q --disable-pip-version-check -e "$repo[test]"
    echo "$want" >"$stamp"
fi

command -v kubectl >/dev/null || log "note: no kubectl on PATH; tests that drive the real kubectl will be skipped"
log "ready"
