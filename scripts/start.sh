#!/usr/bin/env bash
# Install what the loader needs, then start it: the desktop app when a display
# is available, otherwise the headless PACS server. Extra arguments go to
# `loader start`, for example: scripts/start.sh --archive /srv/dicom
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo_root/scripts/setup.sh" --runtime
exec "$repo_root/bin/loader" start "$@"
