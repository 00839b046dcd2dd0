#!/usr/bin/env bash
# `npm test`: every test of every package, TypeScript and Python, against real Redis 7,
# real PostgreSQL and SeaweedFS (an S3 server that verifies signatures and POST policies),
# started here on private loopback ports unless PROTEUS_TEST_{REDIS_URL,DATABASE_URL,S3_*}
# point at running ones. Ends with one line `N passed, N failed, N skipped` over all suites.
#   bash scripts/test.sh                  type checks, lint, every test
#   bash scripts/test.sh --services-only  start the services, write .test/env, wait for Ctrl-C
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/node-env.sh" || exit 1
source "$here/bootstrap.sh"
source "$here/services.sh"
cd "$proteus_root"

mode=all
[ "${1:-}" = "--services-only" ] && mode=services

proteus_install_npm || exit 1
proteus_install_venv || exit 1
proteus_ensure_chromium || exit 1

run_dir=$(mktemp -d /tmp/proteus-test.XXXXXX)
chmod 755 "$run_dir"
cleanup() {
  [ -f "$run_dir/redis/redis.pid" ] && kill "$(cat "$run_dir/redis/redis.pid")" 2>/dev/null
  proteus_stop_postgres "$run_dir/pg"
  if [ -f "$run_dir/s3/weed.pid" ]; then
    local pid i
    pid=$(cat "$run_dir/s3/weed.pid")
    kill -- -"$pid" 2>/dev/null
    # SeaweedFS takes a few seconds to stop; its data folder goes only after it has
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 -- -"$pid" 2>/dev/null
  fi
  rm -rf "$run_dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${PROTEUS_TEST_REDIS_URL:-}" ]; then
  proteus_ensure_redis || exit 1
  PROTEUS_TEST_REDIS_URL=$(proteus_start_redis "$run_dir/redis") || exit 1
fi
if [ -z "${PROTEUS_TEST_DATABASE_URL:-}" ]; then
  proteus_ensure_postgres || exit 1
  PROTEUS_TEST_DATABASE_URL=$(proteus_start_postgres "$run_dir/pg") || exit 1
fi
if [ -z "${PROTEUS_TEST_S3_ENDPOINT:-}" ]; then
  proteus_ensure_seaweedfs || exit 1
  PROTEUS_TEST_S3_ENDPOINT=$(proteus_start_seaweedfs "$run_dir/s3") || exit 1
  PROTEUS_TEST_S3_ACCESS_KEY=$PROTEUS_S3_ACCESS_KEY
  PROTEUS_TEST_S3_SECRET_KEY=$PROTEUS_S3_SECRET_KEY
fi
export PROTEUS_TEST_REDIS_URL PROTEUS_TEST_DATABASE_URL PROTEUS_TEST_S3_ENDPOINT PROTEUS_TEST_S3_ACCESS_KEY PROTEUS_TEST_S3_SECRET_KEY
mkdir -p .test
cat >.test/env <<ENV
export PROTEUS_TEST_REDIS_URL=$PROTEUS_TEST_REDIS_URL
export PROTEUS_TEST_DATABASE_URL=$PROTEUS_TEST_DATABASE_URL
export PROTEUS_TEST_S3_ENDPOINT=$PROTEUS_TEST_S3_ENDPOINT
export PROTEUS_TEST_S3_ACCESS_KEY=$PROTEUS_TEST_S3_ACCESS_KEY
export PROTEUS_TEST_S3_SECRET_KEY=$PROTEUS_TEST_S3_SECRET_KEY
ENV
echo "proteus: test services: redis $PROTEUS_TEST_REDIS_URL, postgres ${PROTEUS_TEST_DATABASE_URL%%/postgres}, s3 $PROTEUS_TEST_S3_ENDPOINT"

if [ "$mode" = services ]; then
  echo "proteus: services up; in another shell: source .test/env && (cd <package> && npx vitest). Ctrl-C stops them."
  # wait on a background sleep so the EXIT trap runs as soon as a signal arrives
  sleep infinity &
  wait $!
fi

find . -path ./node_modules -prune -o -type d -name test-results -print0 | xargs -0 rm -rf
status=0
checks=.test/checks.xml
echo '<testsuites name="checks">' >"$checks"
check() { # name command...: a repo-wide check, reported as one test case
  local name=$1; shift
  echo "proteus: $name"
  if "$@"; then
    echo "  <testcase name=\"$name\"/>" >>"$checks"
  else
    status=1
    echo "  <testcase name=\"$name\"><failure message=\"$name failed\"/></testcase>" >>"$checks"
  fi
}
check "type checks (every package)" turbo run check-types --continue --output-logs=errors-only
check "lint (biome)" biome check .
echo '</testsuites>' >>"$checks"
echo "proteus: tests"
turbo run test --concurrency=2 --continue --output-logs=full || status=1
tsx scripts/src/summarize-tests.ts "$checks" || status=1
exit $status
