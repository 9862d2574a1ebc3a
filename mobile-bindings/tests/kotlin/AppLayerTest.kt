// The Android app's plain-Kotlin layer (android/app/src/main/java/org/hearth/app/core:
// HearthSession, HearthRepository and the screen models) on the JVM against the real
// library, two sessions pairing over loopback, and the Groups and Sharing models
// against a real hub. Compiled in by run.sh only when that folder exists; BindingsTest.kt finds
// `AppLayerTests` by name.

package org.hearth.tests

import java.io.File
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.async
import kotlinx.coroutines.cancel
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.withTimeout
import org.hearth.app.core.CenterModel
import org.hearth.app.core.DevicesModel
import org.hearth.app.core.DevicesNotice
import org.hearth.app.core.GroupsModel
import org.hearth.app.core.ProposalForm
import org.hearth.app.core.Reminder
import org.hearth.app.core.HearthSession
import org.hearth.app.core.JournalModel
import org.hearth.app.core.PlanModel
import org.hearth.app.core.RelativeDay
import org.hearth.app.core.ShareStep
import org.hearth.app.core.SharedWithMeModel
import org.hearth.app.core.SharingModel
import org.hearth.app.core.TodayModel
import org.hearth.app.core.UiError
import org.hearth.ffi.ConsentStatus
import org.hearth.ffi.DeviceKind
import org.hearth.ffi.DeviceState
import org.hearth.ffi.PlanSection
import org.hearth.ffi.SignUpStatus
import org.hearth.ffi.SyncStatus

object AppLayerTests : TestGroup {
    override val tests = listOf(
        Test("app layer: session, Today, Journal and Plan models", ::appLayer),
        Test("app layer: pairing in two steps, backup advice and removal (Devices model)", ::appLayerDevices),
        Test("app layer: a device turned away is told so", ::appLayerTurnedAway),
        Test("app layer: groups, sign-up with its reminder, withdraw, proposals, offline (Groups model)", ::appLayerGroups),
        Test("app layer: sharing two plan sections with a coach, a comment, then stopping (Sharing models)", ::appLayerSharing),
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

        // A hub caught withholding: the Center screen shows the library's words.
        val withheld = SyncStatus.Withheld("hub1", listOf("the hub may be withholding 1 entry"))
        assertEq(
            "Warning: the hub may be withholding 1 entry.",
            CenterModel.describe(withheld) { it },
            "withheld status line",
        )

        session.close()
        assertEq(HearthSession.State.Opening, session.state.value, "closed")
    } finally {
        scope.cancel()
    }
}

/** Waits until [model]'s state satisfies [what]. */
suspend fun DevicesModel.awaitState(what: (org.hearth.app.core.DevicesState) -> Boolean) =
    withTimeout(20_000) { state.first(what) }

suspend fun appLayerDevices() {
    val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
    val home = tempDir()
    try {
        val sessionA = HearthSession(File(home, "a").path, MemoryKeyStore(), scope, bind = BIND)
        sessionA.open()
        check(sessionA.create("Sam").isOk) { "create: ${sessionA.state.value}" }
        val repoA = sessionA.repository ?: throw AssertionFailed("A not ready")
        val devices = DevicesModel(repoA, scope)
        TodayModel(repoA, scope).apply { setMood(3) }.save()

        // A new journal has no backup: the library's advice is on the Devices screen.
        val fresh = devices.awaitState { it.devices.isNotEmpty() && it.backupAdvice != null }
        assertEq(listOf(DeviceKind.DEVICE to DeviceState.ACTIVE), fresh.devices.map { it.info.kind to it.info.state }, "rows")
        check(!fresh.devices.single().canRemove && !fresh.thisDeviceRemoved) { "this device is not removable" }

        // Step one on A: an invite. Step one on B: join, showing the code.
        check(devices.createInvite(60)) { "invite: ${devices.state.value.error}" }
        val ticket = devices.state.value.invite?.ticket ?: throw AssertionFailed("no invite shown")
        var forgotten = 0
        val sessionB = HearthSession(File(home, "b").path, MemoryKeyStore(), scope, bind = BIND, forgetSeed = { forgotten++ })
        sessionB.open()
        val joining = scope.async { sessionB.join(ticket) }
        val working = withTimeout(20_000) {
            sessionB.state.first { it is HearthSession.State.Working && it.pairingCode != null }
        } as HearthSession.State.Working
        assertEq(HearthSession.Setup.JOINING, working.what, "B is joining")

        // Step two on A: the same code, and the member says yes.
        val asking = devices.awaitState { it.joinRequest != null }
        assertEq(working.pairingCode, asking.joinRequest?.code, "both devices show one code")
        check(!joining.isCompleted) { "B waits for the member" }
        check(devices.answerJoin(true)) { "answer: ${devices.state.value.error}" }
        check(joining.await().isOk) { "B joined: ${sessionB.state.value}" }
        assertEq(1, forgotten, "a leftover seed is forgotten once, before the code")
        val repoB = sessionB.repository ?: throw AssertionFailed("B not ready")
        val joined = devices.awaitState { it.notice is DevicesNotice.Joined && it.devices.size == 2 }
        check(joined.invite == null && joined.joinRequest == null) { "the invite is put away: $joined" }
        withTimeout(20_000) { repoB.checkIns.first { it.size == 1 } }

        // A backup puts the advice away; removing B brings it back.
        check(devices.makeBackup("short") == null) { "a short passphrase is refused" }
        check(devices.state.value.error != null && devices.state.value.backupAdvice != null) { "refused: no backup" }
        val backup = devices.makeBackup("correct horse battery") ?: throw AssertionFailed("${devices.state.value.error}")
        check(backup.isNotEmpty()) { "backup bytes" }
        devices.backupWritten()
        val current = devices.awaitState { it.backupAdvice == null }
        assertEq(DevicesNotice.BackupSaved, current.notice, "saved notice")
        assertEq(
            listOf(DeviceKind.DEVICE, DeviceKind.DEVICE, DeviceKind.BACKUP_KEY),
            current.devices.map { it.info.kind },
            "a backup key in the list",
        )
        val b = current.devices.first { it.info.id == repoB.deviceId }
        check(b.canRemove) { "B can be removed" }
        check(devices.remove(b.id)) { "remove: ${devices.state.value.error}" }
        val after = devices.state.value
        assertEq(DevicesNotice.Removed(emptyList()), after.notice, "removed notice")
        check(after.backupAdvice != null) { "the advice to make a new backup is shown" }
        val row = after.devices.first { it.id == b.id }
        check(row.info.state == DeviceState.REMOVED && !row.canRemove) { "B is removed: $row" }
        println("      (the member would read: \"${after.backupAdvice}\")")

        sessionB.close()
        sessionA.close()
    } finally {
        scope.cancel()
    }
}

suspend fun appLayerTurnedAway() {
    val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
    val home = tempDir()
    try {
        val sessionA = HearthSession(File(home, "a").path, MemoryKeyStore(), scope, bind = BIND)
        sessionA.open()
        check(sessionA.create(null).isOk) { "create: ${sessionA.state.value}" }
        val devices = DevicesModel(sessionA.repository ?: throw AssertionFailed("A not ready"), scope)
        check(devices.createInvite(60)) { "invite: ${devices.state.value.error}" }
        val ticket = devices.state.value.invite?.ticket ?: throw AssertionFailed("no invite shown")

        val stranger = HearthSession(File(home, "s").path, MemoryKeyStore(), scope, bind = BIND)
        stranger.open()
        val joining = scope.async { stranger.join(ticket) }
        devices.awaitState { it.joinRequest != null }
        check(devices.answerJoin(false)) { "answer: ${devices.state.value.error}" }
        val refused = joining.await().errorOrNull() ?: throw AssertionFailed("the stranger joined")
        assertEq(UiError.Kind.DENIED, refused.kind, "error kind")
        assertEq(HearthSession.TURNED_AWAY, refused.message, "what the stranger reads")
        check(stranger.state.value is HearthSession.State.NeedsSetup) { "back to the welcome screen" }
        val state = devices.state.value
        assertEq(DevicesNotice.TurnedAway, state.notice, "notice on A")
        check(state.invite == null && state.joinRequest == null) { "the invite is closed: $state" }
        assertEq(1, state.devices.size, "still one device")
        sessionA.close()
    } finally {
        scope.cancel()
    }
}

suspend fun appLayerGroups() {
    val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
    val home = tempDir()
    try {
        HubProcess(hubBinary(), home).use { hub ->
            val staff = hub.staff()
            val program = staff.addProgram("Tuesday peer support", place = "Room 2")
            val (starts, startsMs) = sessionStart()
            staff.addSession(program, starts, capacity = 2)
            staff.addResource("Legal aid clinic", "legal")

            // The device's clock is UTC here: the reminder's words say 15:00.
            val session = HearthSession(File(home, "a").path, MemoryKeyStore(), scope, bind = BIND, utcOffset = { 0 })
            session.open()
            check(session.create("Sam").isOk) { "create: ${session.state.value}" }
            val repo = session.repository ?: throw AssertionFailed("not ready")
            val groups = GroupsModel(repo, scope)

            // Before enrolling there is nothing to bring up to date, and the library says why.
            check(!groups.refresh()) { "nothing to refresh" }
            val before = withTimeout(10_000) { groups.state.first { it.loaded } }
            check(!before.enrolled && before.emptyWords != null && before.error == null) { "$before" }
            check(before.reminderChoices.any { it.isDefault }) { "the library's reminder choices" }

            check(repo.enroll(hub.ticket).isOk) { "enroll" }
            check(groups.refresh()) { "refresh: ${groups.state.value.error}" }
            val shown = groups.state.value
            check(shown.enrolled && !shown.offline && shown.syncLine != null) { "$shown" }
            val p = shown.programs.single()
            assertEq("Tuesday peer support" to "Room 2", p.title to p.facts, "program")
            assertEq(listOf("Legal aid clinic"), shown.resources.map { it.name }, "resources")
            val sessionId = p.sessions.single().id

            // The sign-up dialog: the default reminder is chosen; a blank nickname is
            // refused in the library's words and the dialog stays open.
            groups.openSignUp(sessionId)
            val form = groups.state.value.signUpForm ?: throw AssertionFailed("no dialog")
            assertEq(60.toUShort(), form.reminder?.minutes, "default reminder")
            assertEq("2 of 2 places left", form.placesWords, "places in the dialog")
            groups.setNickname("   ")
            check(groups.submitSignUp() == null) { "a blank nickname is refused" }
            val blank = groups.state.value
            assertEq(UiError.Kind.INVALID, blank.error?.kind, "blank nickname")
            check(blank.signUpForm != null) { "the dialog stays open" }
            println("      (the member would read: \"${blank.error?.message}\")")

            groups.setNickname(" Sky ")
            groups.setNote("first time")
            groups.setReminder(blank.reminderChoices.first { it.minutes == 15.toUShort() })
            val mine = groups.submitSignUp() ?: throw AssertionFailed("sign-up: ${groups.state.value.error}")
            val signedUp = groups.state.value
            assertEq(SignUpStatus.Confirmed, mine.status, "status")
            check(signedUp.signUpForm == null) { "the dialog closes" }
            assertEq("Signed up for Tuesday peer support as Sky: confirmed.", signedUp.notice, "notice")
            assertEq(listOf(mine.id), signedUp.signUps.map { it.id }, "the member's sign-ups")
            assertEq(mine.id, signedUp.programs.single().sessions.single().mySignup, "the session knows it")
            // The reminder to schedule: when, and words that give nothing away.
            assertEq(
                listOf(Reminder(mine.id, startsMs - 15 * 60_000, "Hearth: something you signed up for starts at 15:00")),
                repo.reminders.value,
                "reminders",
            )

            // Withdrawing turns the reminder off.
            check(groups.withdraw(mine.id)) { "withdraw: ${groups.state.value.error}" }
            assertEq("Withdrawn from Tuesday peer support. Its reminder is off.", groups.state.value.notice, "notice")
            assertEq(emptyList<Reminder>(), repo.reminders.value, "no reminders")
            assertEq(SignUpStatus.Withdrawn, groups.state.value.signUp(mine.id)?.status, "withdrawn")

            // Proposals and interest.
            groups.openProposal()
            groups.setProposal(ProposalForm("Saturday walks", "Saturday mornings", ""))
            val number = groups.submitProposal() ?: throw AssertionFailed("propose: ${groups.state.value.error}")
            assertEq(listOf("Saturday walks"), groups.state.value.proposals.map { it.title }, "proposals")
            assertEq(1u, groups.interested(number), "interested")
            assertEq("Counted: 1 member is interested.", groups.state.value.notice, "interest notice")
            assertEq(1u, groups.interested(number), "counted once")
            check(groups.interested(9999u) == null) { "no such proposal" }
            val refused = groups.state.value.error ?: throw AssertionFailed("no error shown")
            assertEq(UiError.Kind.DENIED to "The center has no proposal with that number.", refused.kind to refused.message, "refusal")

            // Out of reach: the screen keeps what it has, says it is offline, and a
            // sign-up is saved to be sent later (its reminder set all the same).
            hub.close()
            check(!groups.refresh()) { "the hub is down" }
            val offline = groups.state.value
            check(offline.offline && offline.error == null && offline.programs.isNotEmpty()) { "$offline" }
            groups.openSignUp(sessionId)
            assertEq("Sky", groups.state.value.signUpForm?.nickname, "the nickname last used")
            val saved = groups.submitSignUp() ?: throw AssertionFailed("offline sign-up: ${groups.state.value.error}")
            assertEq(SignUpStatus.Pending, saved.status, "pending")
            check(groups.state.value.notice?.startsWith("Saved your sign-up") == true) { "${groups.state.value.notice}" }
            assertEq(listOf(startsMs - 60 * 60_000), repo.reminders.value?.map { it.atMs }, "reminder while pending")
            session.close()
        }
    } finally {
        scope.cancel()
    }
}

suspend fun appLayerSharing() {
    val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
    val home = tempDir()
    try {
        HubProcess(hubBinary(), home).use { hub ->
            val memberSession = HearthSession(File(home, "member").path, MemoryKeyStore(), scope, bind = BIND)
            memberSession.open()
            check(memberSession.create("Sam").isOk) { "create: ${memberSession.state.value}" }
            val member = memberSession.repository ?: throw AssertionFailed("member not ready")
            val coachSession = HearthSession(File(home, "coach").path, MemoryKeyStore(), scope, bind = BIND)
            coachSession.open()
            check(coachSession.create("Lee").isOk) { "create: ${coachSession.state.value}" }
            val coach = coachSession.repository ?: throw AssertionFailed("coach not ready")
            check(member.enroll(hub.ticket).isOk && coach.enroll(hub.ticket).isOk) { "both enroll" }
            check(member.setPlanText(PlanSection.CRISIS, "Call Jo, then the warmline.").isOk) { "crisis text" }
            check(member.addPlanItem(PlanSection.TOOLBOX, "walk by the river").isOk) { "toolbox item" }
            check(member.setPlanText(PlanSection.TRIGGERS, "not for the coach").isOk) { "triggers text" }
            val sharing = SharingModel(member, scope)
            val shared = SharedWithMeModel(coach, scope)

            // The coach's card, read on the member's phone: whom it names, nothing shared yet.
            val card = coach.coachCard(null).getOrNull() ?: throw AssertionFailed("no coach card")
            check(!sharing.readCard("hearthcoach-not-a-card")) { "a bad card is refused" }
            assertEq(SharingModel.NOT_A_CARD, sharing.state.value.error?.message, "bad card")
            check(sharing.readCard(card.text)) { "read card: ${sharing.state.value.error}" }
            val confirm = sharing.state.value.step as? ShareStep.Confirm ?: throw AssertionFailed("no confirm step")
            assertEq("Lee" to card.fingerprint, confirm.card.name to confirm.card.fingerprint, "whom the card names")
            assertEq(emptyList<Any>(), sharing.state.value.consents, "nothing shared before confirming")

            // Confirmed; none chosen to begin with, and a purpose is needed.
            sharing.confirmCard()
            check(sharing.share() == null) { "no section chosen: refused" }
            assertEq(UiError.Kind.INVALID, sharing.state.value.error?.kind, "no-section error")
            sharing.toggleSection(PlanSection.CRISIS)
            sharing.toggleSection(PlanSection.TOOLBOX)
            check(sharing.share() == null) { "no purpose: refused" }
            sharing.setPurpose(" support between meetings ")
            val consent = sharing.share() ?: throw AssertionFailed("share: ${sharing.state.value.error}")
            assertEq(ConsentStatus.ACTIVE, consent.status, "status")
            assertEq(setOf(PlanSection.CRISIS, PlanSection.TOOLBOX), consent.sections.toSet(), "sections")
            assertEq("support between meetings", consent.purpose, "purpose")
            val code = consent.shareCode ?: throw AssertionFailed("no share code")
            check((sharing.state.value.step as? ShareStep.Code)?.consent?.id == consent.id) { "the code is shown" }
            assertEq(listOf(consent.id), sharing.state.value.consents.map { it.id }, "the consent listed")
            check(member.syncNow().isOk) { "member sync" }

            // The coach adds the code and sees exactly those two sections.
            check(shared.add(code)) { "add: ${shared.state.value.error}" }
            val seen = shared.state.value.shares.single()
            check(seen.active && seen.consentValid) { "$seen" }
            assertEq("Sam", seen.memberName, "member name")
            assertEq(setOf(PlanSection.CRISIS, PlanSection.TOOLBOX), seen.sections.map { it.section }.toSet(), "sections seen")
            assertEq("Call Jo, then the warmline.", seen.sections.first { it.section == PlanSection.CRISIS }.text, "crisis")
            check("not for the coach" !in seen.toString()) { "an unshared section leaked: $seen" }

            // A comment reaches the member's Plan screen.
            check(shared.comment(seen.id, "Proud of this plan.")) { "comment: ${shared.state.value.error}" }
            check(member.syncNow().isOk) { "member sync" }
            val comments = PlanModel(member, scope).state.value.coachComments
            assertEq(listOf("Lee" to "Proud of this plan."), comments.map { it.coachName to it.text }, "coach comments")

            // Stopping: the coach's device shows the end and holds nothing.
            check(sharing.revoke(consent.id)) { "revoke: ${sharing.state.value.error}" }
            assertEq(ConsentStatus.REVOKED, sharing.state.value.consent(consent.id)?.status, "revoked")
            check(member.syncNow().isOk) { "member sync" }
            check(shared.sync()) { "coach sync: ${shared.state.value.error}" }
            val ended = shared.state.value.shares.single()
            check(!ended.active && ended.sections.isEmpty()) { "$ended" }
            check(ended.statusWords.startsWith("sharing ended")) { ended.statusWords }
            println("      (the coach would read: \"${ended.statusWords}\")")
            check(!shared.comment(ended.id, "still here?")) { "no comments once it ended" }
            coachSession.close()
            memberSession.close()
        }
    } finally {
        scope.cancel()
    }
}
