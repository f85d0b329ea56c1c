#!/usr/bin/env bash
# One-command set-up for a fresh machine: npm dependencies, a Vulkan driver when Dawn finds no GPU
# adapter (Mesa 25 lavapipe from Debian bookworm-backports), Chromium for the browser tests
# (the HTML renderer and the explorer), the build, and then the main job (an explanation of a bundled tiny model).
# Pass --no-demo to skip the demo at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else echo "need root for: $*" >&2; return 1; fi; }

log "npm dependencies"
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi

debian_install() {
  # apt-get update is slow; run it once, only when something must be installed.
  if [ -z "${APT_UPDATED:-}" ]; then as_root apt-get update -q; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
}

log "GPU adapter"
if node scripts/probe-adapter.mjs; then
  echo "adapter found"
else
  if [ -r /etc/os-release ] && command -v apt-get >/dev/null; then
    . /etc/os-release
    # Bookworm's own Mesa 22.3 lavapipe is rejected by Dawn; Mesa 25 from backports works (SETUP.md).
    if [ "${VERSION_CODENAME:-}" = bookworm ]; then
      mirror=$(sed -n 's/^URIs: //p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
      mirror=${mirror:-$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null)}
      echo "deb ${mirror} ${VERSION_CODENAME}-backports main" | as_root tee /etc/apt/sources.list.d/backports.list >/dev/null
      as_root apt-get update -q; APT_UPDATED=1
      debian_install -t "${VERSION_CODENAME}-backports" mesa-vulkan-drivers
    else
      debian_install mesa-vulkan-drivers
    fi
  else
    echo "No WebGPU adapter and no apt-get: install a Vulkan driver (Mesa >= 25 lavapipe works) by hand." >&2
    exit 1
  fi
  node scripts/probe-adapter.mjs || { echo "Still no WebGPU adapter after installing Mesa; see docs/runtime.md" >&2; exit 1; }
fi

log "Chromium (browser tests: the HTML renderer and the explorer)"
if [ -x /usr/bin/chromium ]; then echo "found /usr/bin/chromium"; elif command -v apt-get >/dev/null; then debian_install chromium; else echo "no apt-get: install Chromium at /usr/bin/chromium by hand" >&2; fi

log "build"
npm run build

if [ "${1:-}" != "--no-demo" ]; then
  log "main job: explain one example of each trained demo model (models/) with PA-LRP"
  node dist/scripts/demo.js
fi
