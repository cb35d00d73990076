#!/usr/bin/env bash
# Sourced by .ci/run: makes sure redis-server/redis-cli exist and a Redis answers at $REDIS_URL, else starts a private one on a free port.
# After sourcing: REDIS_URL is exported; if a server was started, VESTIBULE_REDIS_PID / VESTIBULE_REDIS_DIR are set and ci_redis_stop stops it.

ci_redis_log() { echo "[ci/redis] $*" >&2; }

ci_redis_install() {
  if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then return 0; fi
  ci_redis_log "redis-server/redis-cli missing: installing the Debian package redis-server"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo -n"; else ci_redis_log "not root and no sudo: cannot install redis-server"; return 1; fi
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server redis-tools >/dev/null ||
    { ci_redis_log "apt-get install redis-server failed"; return 1; }
}

ci_redis_answers() {
  [ "$(timeout 3 redis-cli -u "$1" PING 2>/dev/null)" = "PONG" ]
}

ci_redis_free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close()})"
}

ci_redis_stop() {
  if [ -n "${VESTIBULE_REDIS_PID:-}" ]; then
    kill "$VESTIBULE_REDIS_PID" 2>/dev/null
    local i
    for i in $(seq 1 50); do kill -0 "$VESTIBULE_REDIS_PID" 2>/dev/null || break; sleep 0.1; done
    [ -n "${VESTIBULE_REDIS_DIR:-}" ] && rm -rf "$VESTIBULE_REDIS_DIR"
    unset VESTIBULE_REDIS_PID VESTIBULE_REDIS_DIR
  fi
}

ci_redis_start() {
  ci_redis_install || return 1
  local wanted="${REDIS_URL:-redis://127.0.0.1:6379}"
  if ci_redis_answers "$wanted"; then
    export REDIS_URL="$wanted"
    ci_redis_log "using the Redis that answers at $REDIS_URL"
    return 0
  fi
  local port dir i
  port="$(ci_redis_free_port)" || return 1
  dir="$(mktemp -d "${TMPDIR:-/tmp}/vestibule-ci-redis.XXXXXX")" || return 1
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly no \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" || { ci_redis_log "redis-server failed to start"; return 1; }
  for i in $(seq 1 100); do
    ci_redis_answers "redis://127.0.0.1:$port" && break
    sleep 0.1
  done
  if ! ci_redis_answers "redis://127.0.0.1:$port"; then
    ci_redis_log "redis-server on port $port does not answer; log:"; cat "$dir/redis.log" >&2
    return 1
  fi
  export VESTIBULE_REDIS_PID="$(cat "$dir/redis.pid")" VESTIBULE_REDIS_DIR="$dir"
  export REDIS_URL="redis://127.0.0.1:$port"
  ci_redis_log "started redis-server (pid $VESTIBULE_REDIS_PID) at $REDIS_URL"
  # Stop it when the sourcing script exits, unless that script manages its own EXIT trap (then it should call ci_redis_stop).
  if [ -z "$(trap -p EXIT)" ]; then trap ci_redis_stop EXIT; fi
}

ci_redis_start
