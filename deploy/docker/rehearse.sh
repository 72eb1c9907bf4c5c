#!/usr/bin/env bash
# Rehearses the final stage of deploy/docker/Dockerfile without a Docker engine:
# a clean checkout of HEAD is built (the build stage), then in an empty folder
# the stage's own `RUN npm ci --omit=dev ...` (taken from the Dockerfile, with
# TARGETARCH=amd64, NATIVE=true) installs production dependencies and onnxruntime-node and prunes its
# other platforms; as uid 1000 (the image's USER) the service then starts on an
# embedded broker, answers /health, and stops on SIGTERM writing its snapshot.
#   bash deploy/docker/rehearse.sh        (root: it switches user with setpriv)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d /tmp/edgelstm-rehearse-XXXXXX)"
trap 'rm -rf "$work"' EXIT
port="${REHEARSE_METRICS_PORT:-19464}"

git -C "$root" archive HEAD | tar -x -C "$work" --one-top-level=src
ln -s "$root/node_modules" "$work/src/node_modules"
(cd "$work/src" && npm run -s build >/dev/null)

mkdir "$work/app" && cd "$work/app"
cp "$work/src/package.json" "$work/src/package-lock.json" .
# The RUN instruction that starts with `npm ci --omit=dev`, continuation lines joined.
step="$(awk '/^RUN npm ci --omit=dev/{on=1} on{line=$0; cont=sub(/\\[ \t]*$/, "", line); printf "%s ", line; if (!cont) exit}' "$work/src/deploy/docker/Dockerfile" | sed 's/^RUN //; s|/var/lib/edgelstm|'"$work"'/state|g; s|chown node:node|chown 1000:1000|')"
echo "\$ $step"
TARGETARCH=amd64 NATIVE=true NODE_ENV=production sh -c "$step" 2>&1 | grep -v '^npm warn' || true
cp -r "$work/src/dist" "$work/src/models" .
echo "node_modules: $(du -sh node_modules | cut -f1); onnxruntime-node binaries left: $(cd node_modules/onnxruntime-node/bin/napi-v6 && find . -name '*.node' | tr '\n' ' ')"
chown -R 1000:1000 "$work"

setpriv --reuid=1000 --regid=1000 --clear-groups env HOME=/nonexistent NODE_ENV=production \
  node dist/runtime/cli/main.js run --embedded-port 0 --state-file "$work/state/state.bin" \
  --metrics-host 127.0.0.1 --metrics-port "$port" >"$work/run.log" 2>&1 &
pid=$!
ok=1
for _ in $(seq 1 60); do
  if node -e "fetch('http://127.0.0.1:$port/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"; then ok=0; break; fi
  sleep 0.5
done
kill -TERM "$pid"
wait "$pid" || { echo "service exited non-zero"; cat "$work/run.log"; exit 1; }
[ "$ok" = 0 ] || { echo "no /health answer"; cat "$work/run.log"; exit 1; }
[ -s "$work/state/state.bin" ] || { echo "no snapshot written"; cat "$work/run.log"; exit 1; }
echo "rehearsal ok: production install, uid $(stat -c %u "$work/state/state.bin") wrote $(stat -c %s "$work/state/state.bin") bytes of state, /health answered, SIGTERM stopped it cleanly"
