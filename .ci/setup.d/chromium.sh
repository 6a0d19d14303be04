#!/usr/bin/env bash
# Install (if missing) Debian's Chromium, its headless shell (what the tests drive: same engine,
# less CPU), its matching ChromeDriver and CJK fonts for the demo shop's browser tests
# (tests/shop, marked `browser`). Runs as root on a fresh Debian machine
# before the tests; idempotent: nothing is fetched when everything is already there.
# No browser download of any test tool is used: Selenium drives the headless shell (or
# /usr/bin/chromium) through /usr/bin/chromedriver, all from Debian and built together.
set -euo pipefail

installed() { dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null | grep -qx installed; }

missing=()
# fonts-noto-cjk: Japanese glyphs on the shop's pages (the instructions are in Japanese).
for package in chromium chromium-headless-shell chromium-driver fonts-noto-cjk; do
  installed "$package" || missing+=("$package")
done

if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  # Another installer (e.g. the PostgreSQL setup) may hold the dpkg lock: wait for it.
  for attempt in $(seq 1 20); do
    if apt-get -o DPkg::Lock::Timeout=300 update -qq &&
      apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${missing[@]}" >/dev/null; then
      break
    fi
    if [ "$attempt" = 20 ]; then
      echo "chromium.sh: could not install ${missing[*]}" >&2
      exit 1
    fi
    sleep 5
  done
fi

chromium --version 2>/dev/null
/usr/lib/chromium/chromium-headless-shell --version 2>/dev/null || true
chromedriver --version
