// The Android app's plain-Kotlin layer (android/app/src/main/java/org/hearth/app/core:
// HearthSession, HearthRepository and the screen models) on the JVM against the real
// library. Compiled in by run.sh only when that folder exists; BindingsTest.kt finds
// `AppLayerTests` by name.

package org.hearth.tests

import java.io.File
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.withTimeout
import org.hearth.app.core.HearthSession
import org.hearth.app.core.JournalModel
import org.hearth.app.core.PlanModel
import org.hearth.app.core.RelativeDay
import org.hearth.app.core.TodayModel
import org.hearth.app.core.UiError
import org.hearth.ffi.PlanSection

object AppLayerTests : TestGroup {
    override val tests = listOf(
        Test("app layer: session, Today, Journal and Plan models", ::appLayer),
    )
}

suspend fun appLayer() {
    val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
    try {
        val session = HearthSession(File(tempDir(), "a").path, MemoryKeyStore(), scope, bind = BIND)
        session.open()
        check(session.state.value is HearthSession.State.NeedsSetup) { "a new device asks for setup: ${session.state.value}" }
        check(session.create("  Sam  ").isOk) { "create: ${session.state.value}" }
        val repo = session.repository ?: throw AssertionFailed("not ready: ${session.state.value}")
        assertEq("Sam", repo.name, "name")

        val today = TodayModel(repo, scope)
        val journal = JournalModel(repo, scope)
        val plan = PlanModel(repo, scope)

        // A check-in from the Today form shows up in the Journal, under today.
        check(!today.save()) { "no mood chosen: refused" }
        assertEq(UiError.Kind.INVALID, today.state.value.error?.kind, "no-mood error")
        today.setMood(4)
        today.addTag("  Talked   To Someone ")
        today.setNote(" first check-in ")
        check(today.save()) { "save: ${today.state.value.error}" }
        val days = withTimeout(10_000) { journal.state.first { s -> s.days.sumOf { it.entries.size } == 1 } }.days
        assertEq(RelativeDay.TODAY, days.single().relative, "journal day")
        val entry = days.single().entries.single()
        assertEq("Good", entry.moodLabel, "mood label")
        assertEq(listOf("talked to someone"), entry.checkIn.tags, "tags")
        assertEq("first check-in", entry.checkIn.note, "note")

        // The library's range check reaches the form as a typed, plain-words error.
        today.setMood(9)
        check(!today.save()) { "mood 9 refused" }
        val err = today.state.value.error ?: throw AssertionFailed("no error shown")
        assertEq(UiError.Kind.INVALID, err.kind, "mood 9 error kind")
        println("      (the member would read: \"${err.message}\")")
        assertEq(1, repo.checkIns.value.size, "still one check-in")

        // The plan screen.
        check(plan.addItem(PlanSection.TRIGGERS, " payday ")) { "add item: ${plan.state.value.error}" }
        check(plan.addSupporter("Jo", "sponsor", "555-0100")) { "add supporter" }
        val p = withTimeout(10_000) { plan.state.first { it.supporters.isNotEmpty() } }
        assertEq(listOf("payday"), p.section(PlanSection.TRIGGERS)?.items, "trigger items")
        assertEq(1, p.sectionsStarted, "sections started")

        session.close()
        assertEq(HearthSession.State.Opening, session.state.value, "closed")
    } finally {
        scope.cancel()
    }
}
