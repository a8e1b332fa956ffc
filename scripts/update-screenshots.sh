#!/usr/bin/env bash
# Refreshes the screenshots in docs/images (docs/console.md, docs/driver.md) from the browser tests, which drive Debian's
# headless Chromium against the running silo. An ordinary test run saves its screenshots elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
dotnet build tests/EvCharge.IntegrationTests -c Release -nologo -clp:ErrorsOnly
EVCHARGE_UPDATE_SCREENSHOTS=1 dotnet test tests/EvCharge.IntegrationTests -c Release --no-build --nologo \
  --filter "FullyQualifiedName~OperatorConsole|FullyQualifiedName~Driver"
git status --short docs/images
