#!/usr/bin/env bash
# The binding tests: Python (pytest) and Kotlin on the JVM (kotlinc + JNA +
# kotlinx-coroutines), each driving the real library in bindings-out/ and a real
# hearth-hub on loopback. Run through `cargo xtask test-bindings`, which regenerates
# the bindings first. Installs pytest, JNA and kotlinc when missing (setup.sh); the
# compiled Kotlin is cached in target/tools/kotlin-cache by a hash of its sources.
#
# Prints pytest's summary and a closing line "Kotlin: N passed, M failed"; exits
# non-zero if anything failed.
set -euo pipefail

# shellcheck source=mobile-bindings/tests/setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"

ensure_pytest
ensure_jna
ensure_kotlinc
HEARTH_HUB="$(hearth_hub_bin)"
export HEARTH_HUB
echo "hub: $HEARTH_HUB"

status=0

echo "== Python bindings (pytest)"
python3 -m pytest -q -p no:cacheprovider mobile-bindings/tests/python || status=1

echo "== Kotlin bindings (JVM)"
if ! ffi_jar="$(bindings_jar)"; then
  echo "Kotlin: the generated bindings did not compile"
  exit 1
fi
tests=(mobile-bindings/tests/kotlin/BindingsTest.kt)
app_dir=android/app/src/main/java/org/hearth/app/core
if compgen -G "$app_dir/*.kt" >/dev/null; then
  # The Android app's plain-Kotlin layer, and the test that drives it.
  mapfile -t app_sources < <(find "$app_dir" -maxdepth 1 -name '*.kt' | sort)
  tests+=(mobile-bindings/tests/kotlin/AppLayerTest.kt "${app_sources[@]}")
else
  echo "(no $app_dir: the app-layer test is left out)"
fi
if ! test_jar="$(kotlin_jar hearth-tests -cp "$ffi_jar" "${tests[@]}")"; then
  echo "Kotlin: the tests did not compile"
  exit 1
fi
java -Djna.library.path="$OUT" -cp "$(kotlin_cp "$test_jar" "$ffi_jar")" \
  org.hearth.tests.BindingsTestKt || status=1

exit "$status"
