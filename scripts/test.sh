#!/usr/bin/env bash
# Install what the tests need, build the sample corpus when it is missing, then
# run jest. Extra arguments go to jest, for example: scripts/test.sh -t storescp
# Exits with jest's exit code.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

scripts/setup.sh --test
test/fixtures/build-corpus.sh
exec npx --no-install jest "$@"
