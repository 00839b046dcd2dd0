# shellcheck shell=bash
# Sourced after node-env.sh: installs what is missing, quickly when nothing is.
#  - npm dependencies (onnxruntime-node must not download CUDA libraries: it bundles CPU ones)
#  - the gpu-worker's virtualenv
#  - Chromium for the web mirror's browser test (apt; called by test.sh)

proteus_stamp_ok() { # $1 stamp file, rest: inputs; true when the stamp is newer than every input
  local stamp=$1; shift
  [ -f "$stamp" ] || return 1
  local f
  for f in "$@"; do [ "$f" -nt "$stamp" ] && return 1; done
  return 0
}

proteus_install_npm() {
  local stamp="$proteus_root/node_modules/.proteus-installed"
  proteus_stamp_ok "$stamp" "$proteus_root/package-lock.json" "$proteus_root/package.json" && return 0
  echo "proteus: installing npm dependencies" >&2
  (cd "$proteus_root" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error >&2) || {
    echo "proteus: npm ci failed (run it yourself: cd $proteus_root && ONNXRUNTIME_NODE_INSTALL=skip npm ci)" >&2
    return 1
  }
  touch "$stamp"
}

proteus_install_venv() {
  local venv="$proteus_root/gpu-worker/.venv" stamp
  stamp="$venv/.proteus-installed"
  proteus_stamp_ok "$stamp" "$proteus_root/gpu-worker/pyproject.toml" && return 0
  local py
  py=$(command -v python3) || { echo "proteus: python3 is missing: run apt-get install -y python3 python3-venv" >&2; return 1; }
  if [ ! -x "$venv/bin/python" ]; then
    echo "proteus: creating the gpu-worker virtualenv" >&2
    "$py" -m venv "$venv" >&2 || {
      echo "proteus: python3 -m venv failed: run apt-get install -y python3-venv" >&2
      return 1
    }
  fi
  echo "proteus: installing the gpu-worker into its virtualenv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$proteus_root/gpu-worker[test,typecheck]" >&2 || return 1
  touch "$stamp"
}

# kustomize, for the manifest tests (infra/): built from the Go module proxy, since no release
# binary can be downloaded here. Needs Go 1.22 or newer (Debian 12's golang-go is too old).
proteus_kustomize_version=v5.7.1
proteus_install_kustomize() {
  local dir="$proteus_root/.tools/kustomize" go
  [ -x "$dir/bin/kustomize" ] && [ -f "$dir/.installed-$proteus_kustomize_version" ] && return 0
  go=$(command -v go || { [ -x /usr/local/go/bin/go ] && echo /usr/local/go/bin/go; }) || {
    echo "proteus: Go (1.22+) is needed to build kustomize for the manifest tests; install it, or put a kustomize $proteus_kustomize_version at $dir/bin/kustomize" >&2
    return 1
  }
  echo "proteus: building kustomize $proteus_kustomize_version into .tools/kustomize (Go module proxy)" >&2
  mkdir -p "$dir/bin"
  GOBIN="$dir/bin" "$go" install "sigs.k8s.io/kustomize/kustomize/v5@$proteus_kustomize_version" >&2 || {
    echo "proteus: go install sigs.k8s.io/kustomize/kustomize/v5@$proteus_kustomize_version failed" >&2
    return 1
  }
  touch "$dir/.installed-$proteus_kustomize_version"
}

proteus_ensure_chromium() { # Debian's Chromium, for the web mirror's browser test and benchmark (web/test)
  [ -x /usr/bin/chromium ] && return 0
  proteus_apt_install chromium # defined in services.sh
}
