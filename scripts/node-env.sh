# shellcheck shell=bash
# Sourced by every entry script: puts a Node.js >= 22 first on PATH.
# Where the machine's Node is older (Debian's is 20, past end of life), node@24 from the
# npm registry (its package carries the binary) is installed into .tools/node once.
# Nothing here leaves the project folder.

proteus_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
proteus_node_dir="$proteus_root/.tools/node"
proteus_node_min=22

proteus_node_major() {
  "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0
}

if [ -x "$proteus_node_dir/node_modules/node/bin/node" ]; then
  export PATH="$proteus_node_dir/node_modules/node/bin:$PATH"
fi

if ! command -v node >/dev/null 2>&1 || [ "$(proteus_node_major node)" -lt "$proteus_node_min" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "proteus: Node.js >= $proteus_node_min is needed and npm is missing to install it." >&2
    echo "  run: apt-get install -y nodejs npm   (then run this command again)" >&2
    return 1 2>/dev/null || exit 1
  fi
  echo "proteus: Node $(node --version 2>/dev/null || echo none) is older than $proteus_node_min; installing node@24 into .tools/node" >&2
  mkdir -p "$proteus_node_dir"
  if ! npm install --prefix "$proteus_node_dir" --no-save --no-audit --no-fund --loglevel=error node@24 >&2; then
    echo "proteus: could not install node@24 from the npm registry into $proteus_node_dir" >&2
    return 1 2>/dev/null || exit 1
  fi
  export PATH="$proteus_node_dir/node_modules/node/bin:$PATH"
  hash -r
fi
export PATH="$proteus_root/node_modules/.bin:$PATH"
# no tool phones home (the machine has no route out anyway)
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1 NEXT_TELEMETRY_DISABLED=1
