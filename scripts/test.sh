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
dotnet test tests/EvCharge.UnitTests -c Release --no-build --nologo --logger "console;verbosity=normal" --blame-hang-timeout 5m "$@"
dotnet test tests/EvCharge.IntegrationTests -c Release --no-build --nologo --logger "console;verbosity=normal" --blame-hang-timeout 10m "$@"
