#!/usr/bin/env bash
# Regenerates the committed API contract after an intended change to the operators' REST API:
#   tests/EvCharge.ApiClient/openapi/v1.json  the OpenAPI document the silo serves at /openapi/v1.json
#   tests/EvCharge.ApiClient/Generated/       the C# client Kiota generates from it
# It runs the contract test in update mode (the test starts the real silo host to read the document, then runs Kiota
# from .config/dotnet-tools.json). Without EVCHARGE_UPDATE_API_CLIENT the same test fails on any difference.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet tool restore
dotnet build tests/EvCharge.IntegrationTests -c Release -nologo -clp:ErrorsOnly
EVCHARGE_UPDATE_API_CLIENT=1 dotnet test tests/EvCharge.IntegrationTests -c Release --no-build --nologo \
  --filter "FullyQualifiedName~ApiClientContractTests.The_committed_document"
# The client compiled into the tests must be the one just written: build and check once more without update mode.
dotnet build tests/EvCharge.IntegrationTests -c Release -nologo -clp:ErrorsOnly
dotnet test tests/EvCharge.IntegrationTests -c Release --no-build --nologo --filter "FullyQualifiedName~ApiClientContractTests"
git status --short tests/EvCharge.ApiClient
