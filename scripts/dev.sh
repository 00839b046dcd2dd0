#!/usr/bin/env bash
# `npm run dev`: installs what is missing, then starts the whole product on embedded defaults
# and prints one URL (default http://localhost:8080). Ctrl-C stops everything.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/node-env.sh" || exit 1
source "$here/bootstrap.sh"
source "$here/services.sh"
cd "$proteus_root"
proteus_install_npm || exit 1
proteus_install_venv || exit 1
if [ -z "${REDIS_URL:-}" ]; then proteus_ensure_redis || exit 1; fi
exec node --import tsx scripts/src/dev.ts
