package org.hearth.app.core

import java.time.Instant
import java.time.LocalDate
import java.time.LocalTime
import java.time.ZoneId

// Small time helpers that also work on Android 8 (API 26): no LocalDate.ofInstant.

/** The calendar day of [epochMs] in [zone]. */
fun dayOf(epochMs: Long, zone: ZoneId): LocalDate = Instant.ofEpochMilli(epochMs).atZone(zone).toLocalDate()

/** The wall-clock time of [epochMs] in [zone]. */
fun timeOf(epochMs: Long, zone: ZoneId): LocalTime = Instant.ofEpochMilli(epochMs).atZone(zone).toLocalTime()

/** The offset of [zone] from UTC at [epochMs], in minutes east. */
fun utcOffsetMinutes(zone: ZoneId = ZoneId.systemDefault(), epochMs: Long = System.currentTimeMillis()): Int =
    zone.rules.getOffset(Instant.ofEpochMilli(epochMs)).totalSeconds / 60
