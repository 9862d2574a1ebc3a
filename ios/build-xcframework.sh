#!/usr/bin/env bash
# Builds what the HearthKit Swift package needs from the Rust workspace:
#
#   HearthFFIFFI.xcframework         the static library for iPhone (arm64) and the
#                                    simulator (arm64 + x86_64, lipo'd), with the C
#                                    header and module map uniffi writes
#   Sources/HearthFFI/HearthFFI.swift the generated Swift bindings
#
# Needs macOS with Xcode (xcodebuild, lipo) and rustup. Run from anywhere:
#
#   ios/build-xcframework.sh            # release (what you ship and profile)
#   PROFILE=debug ios/build-xcframework.sh   # faster to build, slower to run
#
# Then open the app (see README.md). Nothing here is committed; re-run it after
# changing anything under core/ or mobile-bindings/.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
profile="${PROFILE:-release}"
# Keep in step with the deployment target in Package.swift and project.yml.
export IPHONEOS_DEPLOYMENT_TARGET="${IPHONEOS_DEPLOYMENT_TARGET:-16.0}"

device=aarch64-apple-ios
sims=(aarch64-apple-ios-sim x86_64-apple-ios)
lib=libhearth_mobile.a

if [[ "$(uname -s)" != "Darwin" ]]; then
    echo "build-xcframework.sh needs macOS with Xcode (xcodebuild, lipo)." >&2
    exit 1
fi
command -v xcodebuild >/dev/null || { echo "xcodebuild not found: install Xcode and run xcode-select." >&2; exit 1; }

cargo_flags=(-p hearth-mobile --lib)
[[ "$profile" == "release" ]] && cargo_flags+=(--release)
outdir() { echo "$root/target/$1/$profile"; }

echo "==> rustup targets"
rustup target add "$device" "${sims[@]}"

cd "$root"
for target in "$device" "${sims[@]}"; do
    echo "==> cargo build ($target, $profile)"
    cargo build "${cargo_flags[@]}" --target "$target"
done

build="$here/build"
rm -rf "$build"
mkdir -p "$build/headers" "$build/sim" "$build/swift"

echo "==> Swift bindings (uniffi-bindgen, library mode)"
cargo run --quiet -p xtask --bin uniffi-bindgen -- generate \
    --library "$(outdir "$device")/$lib" \
    --language swift --no-format --out-dir "$build/swift"
cp "$build/swift/HearthFFIFFI.h" "$build/headers/"
# An XCFramework's headers folder carries the module map under the standard name.
cp "$build/swift/HearthFFIFFI.modulemap" "$build/headers/module.modulemap"
mkdir -p "$here/Sources/HearthFFI"
cp "$build/swift/HearthFFI.swift" "$here/Sources/HearthFFI/HearthFFI.swift"

echo "==> lipo the simulator slices"
lipo -create \
    "$(outdir aarch64-apple-ios-sim)/$lib" \
    "$(outdir x86_64-apple-ios)/$lib" \
    -output "$build/sim/$lib"

echo "==> xcodebuild -create-xcframework"
rm -rf "$here/HearthFFIFFI.xcframework"
xcodebuild -create-xcframework \
    -library "$(outdir "$device")/$lib" -headers "$build/headers" \
    -library "$build/sim/$lib" -headers "$build/headers" \
    -output "$here/HearthFFIFFI.xcframework"

echo "Done: $here/HearthFFIFFI.xcframework and Sources/HearthFFI/HearthFFI.swift"
