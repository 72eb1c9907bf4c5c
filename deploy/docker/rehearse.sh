#!/usr/bin/env bash
# Rehearses the final stage of deploy/docker/Dockerfile without a Docker engine, on this machine's Node:
# the build context (the working tree, as `docker build .` sends it) is built (the build stage), then in an
# empty folder the stage's own `RUN npm ci --omit=dev ...` (taken from the Dockerfile, under NODE_ENV=production
# and NATIVE as the build arg says) installs production dependencies and, with NATIVE=true, onnxruntime-node
# with this platform's binary only; then, as uid 1000 (the image's USER), the service starts on an embedded
# broker, answers /health on the backend the image should use (native with NATIVE=true, wasm without), and
# stops on SIGTERM writing its snapshot. Any failing step fails the rehearsal (exit 1).
#   bash deploy/docker/rehearse.sh                  (root: it switches user with setpriv; needs the npm registry)
#   bash deploy/docker/rehearse.sh --install-only   (the RUN step and its checks only: no build, no service, any user)
#   REHEARSE_NATIVE=false bash deploy/docker/rehearse.sh   (the wasm-only image, --build-arg NATIVE=false)
# The step runs with an npm cache of its own (it ends with `npm cache clean --force`), so every package is fetched.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d /tmp/edgelstm-rehearse-XXXXXX)"
trap 'rm -rf "$work"' EXIT
port="${REHEARSE_METRICS_PORT:-19464}"
native="${REHEARSE_NATIVE:-true}"
install_only=false
[ "${1:-}" = --install-only ] && install_only=true
fail() { echo "rehearsal FAILED: $*" >&2; exit 1; }

# The build context: tracked and untracked files that are not ignored, as they are in the working tree.
mkdir "$work/src"
(cd "$root" && git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
  | tar --null -T - -cf -) | tar -x -C "$work/src"
mkdir "$work/app" && cd "$work/app"
cp "$work/src/package.json" "$work/src/package-lock.json" .
# The RUN instruction that starts with `npm ci --omit=dev`, continuation lines joined.
step="$(awk '/^RUN npm ci --omit=dev/{on=1} on{line=$0; cont=sub(/\\[ \t]*$/, "", line); printf "%s ", line; if (!cont) exit}' "$work/src/deploy/docker/Dockerfile" | sed 's/^RUN //; s|/var/lib/edgelstm|'"$work"'/state|g; s|chown node:node|chown '"$(id -u):$(id -g)"'|')"
[ -n "$step" ] || fail "no 'RUN npm ci --omit=dev' in deploy/docker/Dockerfile"
echo "\$ NATIVE=$native NODE_ENV=production sh -c '$step'"
if ! NATIVE="$native" NODE_ENV=production npm_config_cache="$work/npm-cache" sh -c "$step" >"$work/step.log" 2>&1; then
  grep -v '^npm warn' "$work/step.log" >&2 || true
  fail "the RUN step exited non-zero"
fi
grep -v '^npm warn' "$work/step.log" || true

# What the step must leave: onnxruntime-node with exactly this platform's binary (NATIVE=true), or none at all.
bins=""
[ -d node_modules/onnxruntime-node ] && bins="$(find node_modules/onnxruntime-node -name onnxruntime_binding.node | sort | tr '\n' ' ')"
if [ "$native" = true ]; then
  want="node_modules/onnxruntime-node/bin/napi-v6/$(node -p "process.platform + '/' + process.arch")/onnxruntime_binding.node "
  [ "$bins" = "$want" ] || fail "onnxruntime-node binaries left: '${bins}', want exactly '${want}'"
  node -e "require('onnxruntime-node')" || fail "onnxruntime-node does not load from the image's node_modules"
else
  [ -z "$bins" ] || fail "NATIVE=false left onnxruntime-node installed: $bins"
fi
echo "node_modules: $(du -sh node_modules | cut -f1); onnxruntime-node binaries left: ${bins:-none}"
if [ "$install_only" = true ]; then
  echo "rehearsal ok (install only): the RUN step exited 0 with NATIVE=$native"
  exit 0
fi

ln -s "$root/node_modules" "$work/src/node_modules"
(cd "$work/src" && npm run -s build >/dev/null) || fail "the build stage (npm run build) failed"
cp -r "$work/src/dist" "$work/src/models" .
chown -R 1000:1000 "$work"

setpriv --reuid=1000 --regid=1000 --clear-groups env HOME=/nonexistent NODE_ENV=production \
  node dist/runtime/cli/main.js run --embedded-port 0 --state-file "$work/state/state.bin" \
  --metrics-host 127.0.0.1 --metrics-port "$port" >"$work/run.log" 2>&1 &
pid=$!
health=""
for _ in $(seq 1 60); do
  if health="$(node -e "fetch('http://127.0.0.1:$port/health').then(async (r) => { if (!r.ok) process.exit(1); process.stdout.write(await r.text()); }, () => process.exit(1))")"; then break; fi
  health=""
  sleep 0.5
done
kill -TERM "$pid"
wait "$pid" || { cat "$work/run.log"; fail "service exited non-zero"; }
[ -n "$health" ] || { cat "$work/run.log"; fail "no /health answer"; }
kind="$(node -p "JSON.parse(process.argv[1]).backend.kind" "$health")"
[ "$kind" = "$([ "$native" = true ] && echo native || echo wasm)" ] || { cat "$work/run.log"; fail "the service runs on $kind (NATIVE=$native): $health"; }
[ -s "$work/state/state.bin" ] || { cat "$work/run.log"; fail "no snapshot written"; }
echo "rehearsal ok: production install (NATIVE=$native), inference on $kind, uid $(stat -c %u "$work/state/state.bin") wrote $(stat -c %s "$work/state/state.bin") bytes of state, /health answered, SIGTERM stopped it cleanly"
