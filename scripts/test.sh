#!/usr/bin/env bash
# Runs every test: installs what the tests need from Debian packages when missing (PostgreSQL server binaries,
# Mosquitto, Chromium), restores the dotnet tools (Kiota), builds the solution once, then runs the unit and the
# integration test projects.
# The integration tests start their own PostgreSQL (as the postgres user, in a temp dir), Mosquitto, embedded
# MQTT broker and wallet-provider sandbox on loopback ports, and remove them afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-deps.sh
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# Kiota (.config/dotnet-tools.json): the API contract test regenerates the committed client with it.
dotnet tool restore

dotnet build Orleans.EvCharge.sln -c Release -nologo -clp:ErrorsOnly
# --blame-hang-timeout: a test that hangs is killed with a dump and the run fails, instead of running into CI's limit.
# The output is also kept in a log so that a failing run ends with the failures themselves (a CI page often shows
# only the last lines of a long run).
log_dir=$(mktemp -d)
status=0
dotnet test tests/EvCharge.UnitTests -c Release --no-build --nologo --logger "console;verbosity=normal" --blame-hang-timeout 5m "$@" \
  2>&1 | tee "$log_dir/unit.log" || status=1
dotnet test tests/EvCharge.IntegrationTests -c Release --no-build --nologo --logger "console;verbosity=normal" --blame-hang-timeout 10m "$@" \
  2>&1 | tee "$log_dir/integration.log" || status=1
if [ "$status" -ne 0 ]; then
  echo
  echo "==== failed tests (from $log_dir) ===="
  # Each failure block: the "Failed <name>" line, its message and the top of its stack trace (up to the next result).
  awk '/^  (Passed|Skipped) / { n = 0 } /^  Failed [A-Za-z]/ { n = 60 } n > 0 { print; n-- }' "$log_dir/unit.log" "$log_dir/integration.log" | cut -c1-400
  exit 1
fi
