# Shared setup for the binding tests (run.sh) and the FFI benchmark (benches/ffi.rs):
# installs what is missing, idempotently, and compiles Kotlin into jars cached by a
# hash of their inputs. Source it from bash with `set -euo pipefail`; needs
# `cargo xtask bindings` to have filled bindings-out/.
#
# Sets: ROOT, OUT (bindings-out), TOOLS (target/tools), KOTLIN_HOME, KOTLINC,
# KOTLIN_STDLIB, COROUTINES_JAR, JNA_JAR, BINDINGS_JAR, and defines
# `kotlin_jar NAME SOURCE...` (prints the cached jar's path) and `hearth_hub_bin`.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="$ROOT/bindings-out"
TOOLS="$ROOT/target/tools"
KOTLIN_VERSION=2.4.20
mkdir -p "$TOOLS"

log() { echo "setup: $*" >&2; }

if [ ! -f "$OUT/libhearth_mobile.so" ] || [ ! -f "$OUT/hearth_mobile.py" ]; then
  echo "setup: $OUT has no bindings: run \`cargo xtask bindings\` first" >&2
  exit 1
fi

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# pytest
ensure_pytest() {
  if ! python3 -c 'import pytest' >/dev/null 2>&1; then
    log "installing pytest"
    python3 -m pip install --quiet pytest
  fi
}

# JNA, from Debian (the JVM side of uniffi's Kotlin bindings).
JNA_JAR=/usr/share/java/jna.jar
ensure_jna() {
  if [ ! -f "$JNA_JAR" ]; then
    log "installing libjna-java"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libjna-java >/dev/null
  fi
  if ! command -v java >/dev/null 2>&1; then
    log "installing a JDK"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jdk-headless >/dev/null
  fi
}

# kotlinc, from npm's kotlin-compiler package (it bundles kotlinx-coroutines).
KOTLIN_HOME="$TOOLS/kotlin-compiler-$KOTLIN_VERSION"
KOTLINC="$KOTLIN_HOME/bin/kotlinc"
KOTLIN_STDLIB="$KOTLIN_HOME/lib/kotlin-stdlib.jar"
COROUTINES_JAR="$KOTLIN_HOME/lib/kotlinx-coroutines-core-jvm.jar"
ensure_kotlinc() {
  if [ -x "$KOTLINC" ] && [ -f "$KOTLIN_STDLIB" ] && [ -f "$COROUTINES_JAR" ]; then
    return
  fi
  if ! command -v npm >/dev/null 2>&1; then
    log "installing npm"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
  fi
  log "fetching kotlin-compiler@$KOTLIN_VERSION from npm"
  local tmp
  tmp="$(mktemp -d "$TOOLS/kotlin.XXXXXX")"
  (cd "$tmp" && npm pack --silent "kotlin-compiler@$KOTLIN_VERSION" >/dev/null)
  tar -xzf "$tmp"/kotlin-compiler-*.tgz -C "$tmp"
  rm -rf "$KOTLIN_HOME"
  mv "$tmp/package" "$KOTLIN_HOME"
  rm -rf "$tmp"
  chmod +x "$KOTLIN_HOME"/bin/*
  if [ ! -f "$COROUTINES_JAR" ]; then
    echo "setup: $COROUTINES_JAR is missing from the kotlin-compiler package" >&2
    exit 1
  fi
}

hash_of() {
  # Hashes the file names and contents plus the compiler version and classpath (the
  # jars on it are themselves named by hash).
  {
    echo "kotlin $KOTLIN_VERSION cp ${HASH_EXTRA:-}"
    for f in "$@"; do
      echo "== ${f#"$ROOT"/}"
      cat "$f"
    done
  } | sha256sum | cut -c1-16
}

# kotlin_jar NAME [-cp EXTRA_CP] SOURCE... : compiles SOURCEs (against JNA, coroutines
# and EXTRA_CP) into target/tools/kotlin-cache/NAME-<hash>.jar unless already there;
# prints the jar's path.
kotlin_jar() {
  local name="$1" extra=""
  shift
  if [ "${1:-}" = "-cp" ]; then
    extra="$2"
    shift 2
  fi
  local cache="$TOOLS/kotlin-cache" key jar
  mkdir -p "$cache"
  key="$(HASH_EXTRA="${extra//"$ROOT"\//}" hash_of "$@")"
  jar="$cache/$name-$key.jar"
  if [ ! -f "$jar" ]; then
    log "compiling $name ($# Kotlin files; the generated bindings alone take 30-60 s)"
    local cp="$JNA_JAR:$COROUTINES_JAR${extra:+:$extra}"
    rm -f "$cache/$name"-*.jar
    JAVA_OPTS="${JAVA_OPTS:--Xmx1g}" "$KOTLINC" -nowarn -cp "$cp" -d "$jar.tmp.jar" "$@" >&2
    mv "$jar.tmp.jar" "$jar"
  fi
  echo "$jar"
}

# The generated Kotlin bindings, compiled once per change of the generated code.
bindings_jar() {
  local kt
  kt="$(find "$OUT/org/hearth/ffi" -name '*.kt' | sort)"
  # shellcheck disable=SC2086
  kotlin_jar hearth-ffi $kt
}

# The hub binary the sync tests start: $HEARTH_HUB if set, else the newer of the
# release and debug builds, else a release build made now.
hearth_hub_bin() {
  if [ -n "${HEARTH_HUB:-}" ]; then
    echo "$HEARTH_HUB"
    return
  fi
  local rel="$ROOT/target/release/hearth-hub" dbg="$ROOT/target/debug/hearth-hub"
  if [ -x "$rel" ] && { [ ! -x "$dbg" ] || [ "$rel" -nt "$dbg" ]; }; then
    echo "$rel"
  elif [ -x "$dbg" ]; then
    echo "$dbg"
  else
    log "building hearth-hub (release)"
    (cd "$ROOT" && cargo build --release --quiet -p hearth-hub >&2)
    echo "$rel"
  fi
}

# Runtime classpath for a Kotlin jar.
kotlin_cp() {
  local IFS=:
  echo "$*:$KOTLIN_STDLIB:$COROUTINES_JAR:$JNA_JAR"
}
