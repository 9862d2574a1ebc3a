// swift-tools-version:5.9
//
// HearthKit: the Rust core (`hearth-mobile`) for Apple platforms.
//
// * `HearthFFIFFI` — the static library and its C header, as an XCFramework built by
//   `./build-xcframework.sh` (macOS with Xcode; not committed).
// * `HearthFFI` — the Swift bindings uniffi generates (`Sources/HearthFFI/HearthFFI.swift`,
//   written by the same script; not committed).
// * `HearthKit` — re-exports `HearthFFI` and adds the small, UI-free helpers the app
//   shares between screens (mood words, the 14-day trend, status sentences).
//
// Run `./build-xcframework.sh` once before opening the app in Xcode (see README.md).

import PackageDescription

let package = Package(
    name: "HearthKit",
    platforms: [.iOS(.v16)],
    products: [
        .library(name: "HearthKit", targets: ["HearthKit"]),
    ],
    targets: [
        .binaryTarget(name: "HearthFFIFFI", path: "HearthFFIFFI.xcframework"),
        .target(
            name: "HearthFFI",
            dependencies: ["HearthFFIFFI"],
            path: "Sources/HearthFFI",
            exclude: ["README.md"],
            linkerSettings: [
                // What the Rust standard library, iroh (network watching, DNS) and
                // rustls need from the system when linked statically. If a dependency
                // change adds one, `cargo rustc -p hearth-mobile --lib --release
                // --target aarch64-apple-ios -- --print native-static-libs` lists them.
                .linkedFramework("CoreFoundation"),
                .linkedFramework("Security"),
                .linkedFramework("SystemConfiguration"),
                .linkedLibrary("resolv"),
            ]
        ),
        .target(
            name: "HearthKit",
            dependencies: ["HearthFFI"],
            path: "Sources/HearthKit"
        ),
    ]
)
