// FFI benchmark, Kotlin side: the median cost of `addCheckin` through the generated
// bindings (JVM + JNA, a suspend call from runBlocking) on an on-disk vault, and of two
// cheap calls that show the crossing itself: `name()` (synchronous) and `devices()`
// (suspend, no write). Compiled
// and run by mobile-bindings/benches/ffi.rs
// (`cargo xtask bindings && cargo bench -p hearth-mobile --bench ffi`), which compares
// it with the same call in Rust and Python; prints one JSON line.

package org.hearth.bench

import java.io.File
import java.nio.file.Files
import kotlinx.coroutines.runBlocking
import org.hearth.ffi.KeyStore
import org.hearth.ffi.NewCheckIn
import org.hearth.ffi.createHearth

class MemoryKeyStore : KeyStore {
    @Volatile private var seed: ByteArray? = null

    override fun load(): ByteArray? = seed

    override fun save(seed: ByteArray) {
        this.seed = seed.copyOf()
    }
}

/** The same check-in the Rust and Python benches add. */
fun checkin() = NewCheckIn(
    mood = 3u,
    craving = 2u,
    energy = 4u,
    sleepHours = 7.5f,
    tags = listOf("bench"),
    note = "walked to the meeting, called my sister",
)

fun quantile(sorted: DoubleArray, q: Double): Double = sorted[Math.round((sorted.size - 1) * q).toInt()]

fun main() {
    val n = System.getenv("HEARTH_FFI_N")?.toIntOrNull() ?: 2_000
    val warmup = System.getenv("HEARTH_FFI_WARMUP")?.toIntOrNull() ?: 50
    val dir = Files.createTempDirectory("hearth-ffi-bench").toFile()
    val us = DoubleArray(n)
    val nameUs = DoubleArray(n)
    val devicesUs = DoubleArray(n)
    try {
        runBlocking {
            createHearth(File(dir, "vault").path, MemoryKeyStore(), "Bench", "127.0.0.1:0").use { h ->
                repeat(warmup) { h.addCheckin(checkin()) }
                for (i in 0 until n) {
                    val c = checkin()
                    val t = System.nanoTime()
                    h.addCheckin(c)
                    us[i] = (System.nanoTime() - t) / 1000.0
                }
                for (i in 0 until n) {
                    val t = System.nanoTime()
                    h.name()
                    nameUs[i] = (System.nanoTime() - t) / 1000.0
                }
                for (i in 0 until n) {
                    val t = System.nanoTime()
                    h.devices()
                    devicesUs[i] = (System.nanoTime() - t) / 1000.0
                }
            }
        }
    } finally {
        dir.deleteRecursively()
    }
    us.sort()
    nameUs.sort()
    devicesUs.sort()
    fun r(x: Double) = Math.round(x * 100) / 100.0
    println(
        "{\"lang\": \"kotlin\", \"n\": $n, \"median_us\": ${r(quantile(us, 0.5))}, " +
            "\"p10_us\": ${r(quantile(us, 0.1))}, \"p90_us\": ${r(quantile(us, 0.9))}, " +
            "\"name_us\": ${r(quantile(nameUs, 0.5))}, \"devices_us\": ${r(quantile(devicesUs, 0.5))}}",
    )
}
