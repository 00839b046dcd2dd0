#!/usr/bin/env bash
# Before the manifest tests: kustomize into .tools/kustomize when it is not there yet
# (scripts/bootstrap.sh, proteus_install_kustomize; a minute or two once, nothing after).
set -euo pipefail
proteus_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../../scripts/bootstrap.sh
source "$proteus_root/scripts/bootstrap.sh"
proteus_install_kustomize
