#!/usr/bin/env bash
# Installs what the test suite needs beyond Python packages: Debian's Chromium (driven by Playwright;
# never a downloaded browser build), Dovecot and nginx (the tests start their own on loopback ports).
# Safe to run again: it installs only what is missing.
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -x /usr/sbin/dovecot ] || need+=(dovecot-imapd)
[ -x /usr/sbin/nginx ] || need+=(nginx-light)   # tests/ops/test_nginx.py: the shipped site file in front of a hub

if ((${#need[@]})); then
    echo "installing Debian packages: ${need[*]}"
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
