// The Hearth Android app. The Rust core (`hearth-mobile`) is built for each ABI with
// cargo-ndk and its Kotlin bindings are generated with the workspace's uniffi-bindgen,
// both before every build (see `cargoNdkBuild` and `uniffiBindings` below and
// android/README.md). Nothing here is downloaded at run time; the app has no analytics.

import org.gradle.api.tasks.Exec
import org.jetbrains.kotlin.gradle.dsl.JvmTarget

plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
    alias(libs.plugins.kotlin.compose)
}

// ---- Rust: where the workspace is and what to build -------------------------------

val cargoRoot: File = rootProject.file(providers.gradleProperty("hearth.cargoRoot").getOrElse(".."))
val cargoProfile: String = providers.gradleProperty("hearth.cargoProfile").getOrElse("release")
val abis: List<String> = providers.gradleProperty("hearth.abis")
    .getOrElse("arm64-v8a,armeabi-v7a,x86_64")
    .split(',').map { it.trim() }.filter { it.isNotEmpty() }
// `-Phearth.skipCargo=true` reuses the libraries already in src/main/jniLibs and the
// bindings already generated (for working on the UI without a Rust toolchain at hand).
val skipCargo: Boolean = providers.gradleProperty("hearth.skipCargo").map { it.toBoolean() }.getOrElse(false)
val cargo: String = providers.gradleProperty("hearth.cargo").getOrElse("cargo")

val jniLibsDir = layout.projectDirectory.dir("src/main/jniLibs")
val uniffiOutDir = layout.buildDirectory.dir("generated/uniffi")
val minSdkLevel = 26

android {
    namespace = "org.hearth.app"
    compileSdk = 36
    // The NDK cargo-ndk links with (Android Studio's SDK Manager: NDK (Side by side)).
    ndkVersion = "27.0.12077973"

    defaultConfig {
        applicationId = "org.hearth.app"
        minSdk = minSdkLevel
        targetSdk = 36
        versionCode = 1
        versionName = "0.1.0"
        ndk { abiFilters += abis }
    }

    buildTypes {
        release {
            isMinifyEnabled = true
            isShrinkResources = true
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"), "proguard-rules.pro")
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    buildFeatures {
        compose = true
        buildConfig = false
    }

    sourceSets {
        getByName("main") {
            // The generated `org.hearth.ffi` package (uniffi), never committed.
            java.srcDir(uniffiOutDir)
        }
    }

    packaging {
        resources { excludes += "/META-INF/{AL2.0,LGPL2.1}" }
    }
}

kotlin {
    compilerOptions { jvmTarget.set(JvmTarget.JVM_17) }
}

// ---- Tasks: the native library and its Kotlin bindings -----------------------------

val cargoNdkBuild by tasks.registering(Exec::class) {
    group = "hearth"
    description = "Builds libhearth_mobile.so for ${abis.joinToString()} with cargo-ndk into src/main/jniLibs."
    onlyIf { !skipCargo }
    workingDir = cargoRoot
    val args = mutableListOf(cargo, "ndk", "--platform", minSdkLevel.toString(), "-o", jniLibsDir.asFile.absolutePath)
    abis.forEach { args += listOf("-t", it) }
    args += listOf("build", "-p", "hearth-mobile", "--lib")
    if (cargoProfile == "release") args += "--release"
    commandLine(args)
    // cargo-ndk finds the NDK through ANDROID_NDK_HOME; point it at the one AGP uses
    // unless the developer has set it already.
    doFirst {
        if (System.getenv("ANDROID_NDK_HOME").isNullOrEmpty()) {
            environment("ANDROID_NDK_HOME", androidComponents.sdkComponents.ndkDirectory.get().asFile.absolutePath)
        }
    }
    inputs.dir(cargoRoot.resolve("core/src"))
    inputs.dir(cargoRoot.resolve("mobile-bindings/src"))
    inputs.file(cargoRoot.resolve("Cargo.lock"))
    outputs.dir(jniLibsDir)
}

val uniffiBindings by tasks.registering(Exec::class) {
    group = "hearth"
    description = "Generates the Kotlin bindings (package org.hearth.ffi) into build/generated/uniffi."
    onlyIf { !skipCargo }
    dependsOn(cargoNdkBuild)
    workingDir = cargoRoot
    val outDir = uniffiOutDir.get().asFile
    // Library mode reads the interface from the built library itself; any ABI will do.
    val library = jniLibsDir.file("${abis.first()}/libhearth_mobile.so").asFile
    commandLine(
        cargo, "run", "--quiet", "-p", "xtask", "--bin", "uniffi-bindgen", "--",
        "generate", "--library", library.absolutePath,
        "--language", "kotlin", "--no-format", "--out-dir", outDir.absolutePath,
    )
    doFirst { outDir.deleteRecursively() }
    inputs.dir(jniLibsDir)
    inputs.file(cargoRoot.resolve("mobile-bindings/uniffi.toml"))
    outputs.dir(outDir)
}

tasks.named("preBuild") {
    dependsOn(cargoNdkBuild, uniffiBindings)
}

// ---- Dependencies -------------------------------------------------------------------

dependencies {
    // uniffi's generated Kotlin calls the library through JNA; the AAR carries
    // libjnidispatch.so for each ABI.
    implementation(variantOf(libs.jna) { artifactType("aar") })
    implementation(libs.kotlinx.coroutines.core)
    implementation(libs.kotlinx.coroutines.android)

    implementation(libs.androidx.core.ktx)
    implementation(libs.androidx.activity.compose)
    implementation(libs.androidx.lifecycle.runtime.compose)
    implementation(libs.androidx.lifecycle.viewmodel.compose)
    implementation(libs.androidx.lifecycle.process)
    implementation(libs.androidx.navigation.compose)

    implementation(platform(libs.androidx.compose.bom))
    implementation(libs.androidx.compose.ui)
    implementation(libs.androidx.compose.ui.graphics)
    implementation(libs.androidx.compose.ui.tooling.preview)
    implementation(libs.androidx.compose.material3)
    implementation(libs.androidx.compose.material.icons.core)
    debugImplementation(libs.androidx.compose.ui.tooling)

    // QR: CameraX for the preview and frames, ZXing to decode and to draw invites.
    // ZXing runs entirely on the device (no model download, no telemetry).
    implementation(libs.androidx.camera.camera2)
    implementation(libs.androidx.camera.lifecycle)
    implementation(libs.androidx.camera.view)
    implementation(libs.zxing.core)

    // The plain Kotlin layer (org.hearth.app.core) is also compiled and tested on the
    // JVM by the repository's binding tests (mobile-bindings/tests).
    testImplementation(libs.junit)
    testImplementation(libs.kotlinx.coroutines.test)
}
