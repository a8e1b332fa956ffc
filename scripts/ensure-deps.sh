#!/usr/bin/env bash
# Installs what the integration tests need from Debian packages, only when it is missing:
#   - PostgreSQL server binaries (initdb, pg_ctl, postgres under /usr/lib/postgresql/*/bin): the test fixture
#     starts a throwaway server from them
#   - mosquitto and mosquitto-clients: the external MQTT broker and mosquitto_pub/mosquitto_sub
#   - nodejs and npm: the OCPP-J interop test runs ocpp-rpc (tests/interop, pinned by package-lock.json), installed
#     with `npm ci` when tests/interop/node_modules is missing or older than the lock file
#   - chromium and a font (fonts-dejavu-core): the operators' console tests drive Debian's headless Chromium
#     through Playwright (its own browser download cannot be used); without a font every label renders as boxes
#   - a Korean font (fonts-nanum): the drivers' page is in Korean, and its screenshots in docs/ must be readable
# Idempotent: when everything is present it changes nothing and does not touch the network.
# apt-get update runs at most once, and only if something must be installed. Runs as root (CI) or via sudo.
set -euo pipefail

missing=()

have_pg_server() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [[ -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/postgres" ]] && return 0
  done
  return 1
}

have_pg_server || missing+=(postgresql)
command -v mosquitto >/dev/null 2>&1 || [[ -x /usr/sbin/mosquitto ]] || missing+=(mosquitto)
{ command -v mosquitto_pub >/dev/null 2>&1 && command -v mosquitto_sub >/dev/null 2>&1; } || missing+=(mosquitto-clients)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
[[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]] || missing+=(fonts-dejavu-core)
[[ -e /usr/share/fonts/truetype/nanum/NanumGothic.ttf ]] || missing+=(fonts-nanum)

# The interop client's packages, exactly as locked; only when missing or stale, so a green machine stays offline.
interop_packages() {
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/tests/interop"
  if [[ ! -d "$dir/node_modules/ocpp-rpc" || "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]]; then
    echo "ensure-deps: npm ci in tests/interop"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

if ((${#missing[@]} == 0)); then
  echo "ensure-deps: postgresql server binaries, mosquitto, node, npm, chromium and its fonts are present"
  interop_packages
  exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "ensure-deps: need root (or sudo) to install: ${missing[*]}" >&2
  exit 1
fi

echo "ensure-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
# Installing the postgresql package must not leave a cluster running on 5432 in CI; policy-rc.d stops the
# service from being started by the package scripts (the tests start their own server as the postgres user).
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
  "${SUDO[@]}" chmod +x "$policy"
  created_policy=1
fi
trap '[[ $created_policy -eq 1 ]] && "${SUDO[@]}" rm -f "$policy"' EXIT
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"

have_pg_server || { echo "ensure-deps: PostgreSQL server binaries still missing after install" >&2; exit 1; }
id postgres >/dev/null 2>&1 || { echo "ensure-deps: the postgres OS user is missing" >&2; exit 1; }
[[ -x /usr/bin/chromium ]] || { echo "ensure-deps: /usr/bin/chromium still missing after install" >&2; exit 1; }
interop_packages
echo "ensure-deps: done"
