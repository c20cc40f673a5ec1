#!/usr/bin/env bash
# Installs what building and testing Taquin needs on a fresh Debian 12 machine (run as root).
# Idempotent: apt runs only when something is missing. The integration test bed (sshd, PostgreSQL,
# libvirtd, Ceph) installs its own packages through scripts/testbed. bird2 + iproute2 + netcat: the router
# namespace tests (docs/adr/0009). socat: the direct-tcp data path (docs/adr/0018), both ends.
set -euo pipefail

# chromium: the web monitor's browser tests drive Debian's headless Chromium through Playwright (no browser download).
packages=(virtinst libvirt-clients libxml2-utils chromium iproute2 bird2 netcat-openbsd socat)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: missing Debian packages: ${missing[*]}; run this script as root (or apt-get install them)." >&2
    exit 2
  fi
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Package scripts must not start host-wide daemons (bird, libvirtd): forbid it while installing.
  guard=""
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    guard=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$guard"
    chmod 0755 "$guard"
  fi
  rc=0
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } || rc=$?
  [[ -z "$guard" ]] || rm -f "$guard"
  ((rc == 0)) || { echo "install-deps: apt-get failed (exit $rc)" >&2; exit 1; }
fi

if ! command -v dotnet >/dev/null; then
  echo "install-deps: the .NET 10 SDK is required (dotnet not found on PATH)." >&2
  exit 2
fi
