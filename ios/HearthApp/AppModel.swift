import Combine
import Foundation
import HearthKit

/// One line of recent sync activity.
struct ActivityLine: Identifiable {
    let id = UUID()
    let at: Date
    let text: String
}

/// An invite on screen for another of the member's devices to scan.
struct PendingInvite: Equatable {
    let ticket: String
    /// Upper case: a denser QR code for the same ticket.
    var qrContent: String { ticket.uppercased() }
    let expires: Date
}

/// A device presenting the open invite: the member compares `code` with the one it shows.
struct JoinRequest: Equatable {
    /// Its short id.
    let device: String
    /// The code both devices show ("123 456").
    let code: String
}

/// The app's one view of the member's journal: the `Hearth` object, the state the
/// screens show (`@Published`, driven by the library's listener) and every action.
/// The same shape as the Android app's `HearthRepository` and models.
@MainActor
final class AppModel: ObservableObject {
    enum Phase: Equatable {
        case opening
        case welcome
        case working(String)
        /// Joining another device's journal: show `code` for the member to compare there.
        case joining(code: String)
        case ready
        case failed(String)
    }

    @Published private(set) var phase: Phase = .opening
    @Published private(set) var checkIns: [CheckIn] = []
    @Published private(set) var plan: Plan?
    /// Every identity that can reach the journal, in the library's order (current first).
    @Published private(set) var devices: [DeviceInfo] = []
    /// Whether the member has a current backup, and the library's advice (nil until loaded).
    @Published private(set) var backup: BackupStatus?
    /// Whether this device was removed from the journal (it is then read-only).
    @Published private(set) var thisDeviceRemoved = false
    /// A device asking to join through the open invite, waiting for `answerJoin`.
    @Published private(set) var joinRequest: JoinRequest?
    /// The member said yes: the new device is being added.
    @Published private(set) var adding = false
    @Published private(set) var status: SyncStatus = .offline
    @Published private(set) var online = false
    @Published private(set) var activity: [ActivityLine] = []
    @Published private(set) var lastSync: (at: Date, text: String)?
    @Published private(set) var busy = false
    @Published var invite: PendingInvite?
    /// What went wrong, in plain words; a view shows it and clears it.
    @Published var error: String?
    /// Something kind to say (saved, enrolled, joined); a view shows it and clears it.
    @Published var notice: String?

    /// The center as this device last received it: programs with their upcoming
    /// sessions, resources, proposals (nil until loaded). Reads offline.
    @Published private(set) var centerView: CenterView?
    /// Every sign-up of the member's, soonest first, with its reminder.
    @Published private(set) var signUps: [SignUpRecord] = []
    /// The last try to reach the center failed: Groups shows what this device holds, and says so.
    @Published private(set) var centerOffline = false
    /// What the last sync with the center did, in one line (the library's words).
    @Published private(set) var centerSyncLine: String?
    /// Sign-ups the center turned down at the last sync, a sentence each.
    @Published private(set) var centerRefusals: [String] = []
    /// The reminder picker's choices (the library's).
    let reminderOptions: [ReminderChoice] = reminderChoices()

    /// Every consent the member gave a coach, oldest first: whom, which sections, since
    /// and until when, why, where it stands and its history (the library's words).
    @Published private(set) var consents: [ConsentRecord] = []
    /// The comments coaches left on the member's shared sections, oldest first.
    @Published private(set) var coachComments: [CoachComment] = []
    /// The plans members shared with this person as a coach, newest first.
    @Published private(set) var sharedWithMe: [SharedPlanRecord] = []

    /// Whether the member turned live sync on (remembered on this device only).
    @Published var liveSyncWanted: Bool {
        didSet { UserDefaults.standard.set(liveSyncWanted, forKey: Self.liveSyncKey) }
    }

    /// The name the member chose, if any (a consent to a coach carries it).
    @Published private(set) var name: String?
    private var hearth: Hearth?
    private var subscription: Subscription?
    private let keys = KeychainSeedStore()
    private let dataDir: URL
    private var refreshing = false
    private var refreshAgain = false

    private static let liveSyncKey = "liveSync"

    init() {
        let support = FileManager.default.urls(for: .applicationSupportDirectory, in: .userDomainMask)[0]
        dataDir = support.appendingPathComponent("vault", isDirectory: true)
        liveSyncWanted = UserDefaults.standard.bool(forKey: Self.liveSyncKey)
    }

    // MARK: Opening and setting up

    /// Opens the journal if this device has one, else shows the welcome screen.
    func start() async {
        guard hearth == nil else { return }
        phase = .opening
        guard hearthExists(dataDir: dataDir.path) else {
            phase = .welcome
            return
        }
        do {
            let opened = try await openHearth(dataDir: dataDir.path, keyStore: keys, bind: nil)
            ready(opened)
        } catch {
            phase = .failed(plainWords(error))
        }
    }

    /// Starts a new journal; `name` is optional (a nickname is fine).
    func create(name: String) async {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        await setup("Setting up your journal…") { [dataDir, keys] in
            try await createHearth(dataDir: dataDir.path, keyStore: keys, name: trimmed.isEmpty ? nil : trimmed, bind: nil)
        }
    }

    /// Joins the journal of the device that shows `ticket`, showing the pairing code
    /// meanwhile: the member checks the other device shows the same and confirms there.
    func join(ticket: String) async {
        let t = ticket.trimmingCharacters(in: .whitespacesAndNewlines)
        await setup(
            "Connecting to your other device… Keep both close by and on the same Wi-Fi.",
            code: { [keys] in try pairingCode(keyStore: keys, ticketText: t) },
            denied: "Your other device didn't add this one: it was turned away there, or the code was already used. On your other device, tap “Add a device” for a new code."
        ) { [dataDir, keys] in
            try await joinHearth(dataDir: dataDir.path, keyStore: keys, ticketText: t, bind: nil)
        }
    }

    /// Restores an encrypted backup as a new device.
    func restore(backup: Data, passphrase: String) async {
        await setup("Restoring your backup…") { [dataDir, keys] in
            try await restoreHearth(dataDir: dataDir.path, keyStore: keys, backup: backup, passphrase: passphrase, bind: nil)
        }
    }

    /// Runs `open` behind a progress screen saying `what`. `code`, if given, is computed
    /// once the seed is settled (so it is the new identity's) and shown while `open`
    /// runs; `denied` replaces the general words when the library answers `Denied`.
    private func setup(
        _ what: String,
        code: (() throws -> String)? = nil,
        denied: String? = nil,
        _ open: @escaping () async throws -> Hearth
    ) async {
        guard hearth == nil else { return }
        phase = .working(what)
        do {
            if !hearthExists(dataDir: dataDir.path) {
                // A seed left by an earlier install (the Keychain outlives the app)
                // must not become this journal's device identity.
                keys.forget()
            }
            try prepareDataDir()
            if let code {
                phase = .joining(code: try code())
            }
            let opened = try await open()
            ready(opened)
        } catch {
            if let denied, let e = error as? HearthError, case .Denied = e {
                self.error = denied
            } else {
                self.error = plainWords(error)
            }
            phase = .welcome
        }
    }

    /// The vault's folder: private to the app and excluded from iCloud/iTunes backup.
    private func prepareDataDir() throws {
        try FileManager.default.createDirectory(at: dataDir, withIntermediateDirectories: true)
        var values = URLResourceValues()
        values.isExcludedFromBackup = true
        var url = dataDir
        try url.setResourceValues(values)
    }

    private func ready(_ opened: Hearth) {
        hearth = opened
        name = try? opened.name()
        do {
            subscription = try opened.subscribe(listener: Listener(self))
        } catch {
            self.error = plainWords(error)
            Task { await refresh() }
        }
        phase = .ready
        if liveSyncWanted { Task { await setOnline(true) } }
    }

    // MARK: Listening

    /// Hands the library's callbacks (on its own threads) to the main actor.
    private final class Listener: HearthListener, @unchecked Sendable {
        private weak var model: AppModel?

        init(_ model: AppModel) { self.model = model }

        func onChange(origin: ChangeOrigin) {
            let model = self.model
            Task { @MainActor in await model?.refresh() }
        }

        func onSyncStatus(status: SyncStatus) {
            let model = self.model
            Task { @MainActor in model?.note(status) }
        }
    }

    /// Reloads check-ins, plan and devices (one reload at a time; changes that
    /// arrive meanwhile cause one more).
    func refresh() async {
        guard let h = hearth else { return }
        if refreshing {
            refreshAgain = true
            return
        }
        refreshing = true
        defer { refreshing = false }
        repeat {
            refreshAgain = false
            do {
                checkIns = try await h.checkins()
                plan = try await h.plan()
                devices = try await h.devices()
                backup = try await h.backupState()
                thisDeviceRemoved = try await h.isRemoved()
                name = try h.name()
                try await loadCenter(h)
                try await loadSharing(h)
            } catch {
                self.error = plainWords(error)
            }
        } while refreshAgain
    }

    private func note(_ s: SyncStatus) {
        status = s
        if case .offline = s { online = false } else { online = true }
        activity.insert(ActivityLine(at: Date(), text: describe(s)), at: 0)
        if activity.count > 20 { activity.removeLast(activity.count - 20) }
        switch s {
        case let .joinRequested(device, code):
            joinRequest = JoinRequest(device: device, code: code)
        case let .deviceJoined(device):
            joinRequest = nil
            adding = false
            invite = nil
            notice = "A new device joined your journal (\(device))."
            Task { await refresh() }
        case .offline:
            joinRequest = nil
            adding = false
        default:
            break
        }
    }

    // MARK: Words

    /// The center's hub, once enrolled (and not removed).
    var hub: DeviceInfo? { devices.first { $0.kind == .hub && $0.state == .active } }

    /// How to call a peer in a sentence.
    func peerName(_ shortId: String) -> String {
        guard let d = devices.first(where: { $0.shortId == shortId }) else { return "device \(shortId)" }
        return d.kind == .hub ? "the center" : "your device \(shortId)"
    }

    /// A status in words (going online is reported a moment later: don't say offline).
    func describe(_ s: SyncStatus) -> String {
        if case .offline = s, online { return SyncWords.describe(.online, peerName: peerName) }
        return SyncWords.describe(s, peerName: peerName)
    }

    // MARK: Actions

    /// Runs `body` against the journal; on failure shows the error in plain words.
    @discardableResult
    private func perform(_ body: (Hearth) async throws -> Void) async -> Bool {
        guard let h = hearth else { return false }
        busy = true
        defer { busy = false }
        do {
            try await body(h)
            error = nil
            return true
        } catch {
            self.error = plainWords(error)
            return false
        }
    }

    /// Records a check-in (the library checks the ranges).
    func addCheckIn(_ entry: NewCheckIn) async -> Bool {
        await perform { h in
            _ = try await h.addCheckin(checkin: entry)
            checkIns = try await h.checkins()
        }
    }

    /// Deletes a check-in.
    func deleteCheckIn(id: String) async {
        await perform { h in
            try await h.deleteCheckin(id: id)
            checkIns = try await h.checkins()
        }
    }

    /// Replaces a plan section's text (nothing is written if it did not change).
    func setPlanText(_ section: PlanSection, _ text: String) async {
        if plan?.sections.first(where: { $0.section == section })?.text == text { return }
        await perform { h in
            try await h.setPlanText(sectionId: section, text: text)
            plan = try await h.plan()
        }
    }

    /// Adds an item to a plan section.
    func addPlanItem(_ section: PlanSection, _ item: String) async {
        let t = item.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !t.isEmpty else { return }
        await perform { h in
            try await h.addPlanItem(sectionId: section, item: t)
            plan = try await h.plan()
        }
    }

    /// Removes an item from a plan section.
    func removePlanItem(_ section: PlanSection, at index: Int) async {
        await perform { h in
            try await h.removePlanItem(sectionId: section, index: UInt32(index))
            plan = try await h.plan()
        }
    }

    /// Adds a supporter to the crisis plan.
    func addSupporter(name: String, role: String, contact: String) async {
        let n = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !n.isEmpty else { return }
        await perform { h in
            try await h.addSupporter(supporter: Supporter(
                name: n,
                role: role.trimmingCharacters(in: .whitespacesAndNewlines),
                contact: contact.trimmingCharacters(in: .whitespacesAndNewlines)
            ))
            plan = try await h.plan()
        }
    }

    /// Opens a one-time invite for another device (ten minutes).
    func createInvite(validFor seconds: UInt32 = 600) async {
        joinRequest = nil
        adding = false
        await perform { h in
            let i = try await h.invite(validSecs: seconds)
            online = true
            invite = PendingInvite(ticket: i.ticket, expires: Date().addingTimeInterval(TimeInterval(seconds)))
        }
    }

    /// Answers the device asking to join: `sameCode` when both devices show the same
    /// code (it is added), else it is turned away and the invite is closed.
    func answerJoin(sameCode: Bool) {
        guard let h = hearth else { return }
        joinRequest = nil
        do {
            try h.confirmJoin(accept: sameCode)
            error = nil
            if sameCode {
                adding = true
            } else {
                invite = nil
                notice = "Turned away. That device can't read your journal. Tap “Add a device” for a new code if you still want to add one."
            }
        } catch {
            invite = nil
            self.error = plainWords(error)
        }
    }

    /// Removes a device (or a backup key, or the hub): it can read nothing written
    /// from now on. Every backup is retired with it; `backup` then carries the advice.
    func removeDevice(id: String) async {
        var removal: RemovalResult?
        let ok = await perform { h in
            removal = try await h.removeDevice(id: id)
            devices = try await h.devices()
            backup = try await h.backupState()
        }
        guard ok, let removal else { return }
        var text = "Removed. That device can't read anything you write from now on."
        if !removal.skipped.isEmpty {
            text += " These devices need adding again: \(removal.skipped.joined(separator: ", "))."
        }
        notice = text
    }

    /// Makes an encrypted backup with `passphrase` (the library checks it) and returns
    /// its bytes for the member to save; nil (with the error shown) if it failed. It
    /// also adds the backup's key to the journal, so the advice goes away.
    func makeBackup(passphrase: String) async -> Data? {
        var data: Data?
        await perform { h in
            data = try await h.exportBackup(passphrase: passphrase)
            devices = try await h.devices()
            backup = try await h.backupState()
        }
        return data
    }

    /// Enrolls with the code shown at the center's desk, then syncs once.
    func enroll(ticket: String) async {
        let t = ticket.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !t.isEmpty else { return }
        let ok = await perform { h in
            _ = try await h.enroll(ticketText: t)
            devices = try await h.devices()
        }
        if ok {
            notice = "You're enrolled. The center keeps an encrypted copy of your journal; it can't read it."
            await syncNow()
        }
    }

    /// Syncs once with the center and any of the member's devices in reach.
    func syncNow() async {
        // Another device or a hub with access (a backup key never syncs).
        guard devices.contains(where: { !$0.thisDevice && $0.state == .active && $0.kind != .backupKey }) else {
            notice = "Nothing to sync with yet. Enroll at a center, or add another device."
            return
        }
        await perform { h in
            let report = try await h.sync()
            lastSync = (Date(), SyncWords.describe(report))
        }
        await refresh()
    }

    /// Goes online for live sync, or offline.
    func setOnline(_ on: Bool) async {
        await perform { h in
            if on { try await h.goOnline() } else { try await h.goOffline() }
            online = on
        }
    }

    /// Live sync only while the app is in front: called on scene phase changes.
    func appActive(_ active: Bool) async {
        guard hearth != nil else { return }
        if active {
            if liveSyncWanted { await setOnline(true) }
        } else if online {
            await setOnline(false)
        }
    }

    // MARK: Groups at the center

    /// The device's offset from UTC now, in minutes east (the library words reminders in it).
    private var utcOffsetMinutes: Int32 { Int32(TimeZone.current.secondsFromGMT() / 60) }

    /// Reads the center's programs and the member's sign-ups, and keeps the local
    /// reminders in step with the sign-ups.
    private func loadCenter(_ h: Hearth) async throws {
        centerView = try await h.center()
        signUps = try await h.signups(utcOffsetMinutes: utcOffsetMinutes)
        await Reminders.sync(signUps)
    }

    /// The member's sign-ups whose session has not ended.
    var upcomingSignUps: [SignUpRecord] { signUps.filter { !$0.ended } }

    /// Runs a center action; refusals read in the center's own words. Reloads the
    /// center and the sign-ups afterwards, whatever happened.
    @discardableResult
    private func atCenter(_ body: (Hearth) async throws -> Void) async -> Bool {
        await act(body, words: centerWords, reload: loadCenter)
    }

    /// Runs an action on the device while busy: a refusal shows in `words`; `reload`
    /// runs afterwards, whatever happened. Whether it succeeded.
    private func act(
        _ body: (Hearth) async throws -> Void,
        words: (Error) -> String,
        reload: (Hearth) async throws -> Void
    ) async -> Bool {
        guard let h = hearth else { return false }
        busy = true
        defer { busy = false }
        var ok = true
        do {
            try await body(h)
            error = nil
        } catch {
            self.error = words(error)
            ok = false
        }
        try? await reload(h)
        return ok
    }

    /// Brings the center up to date. Out of reach, Groups keeps showing what this
    /// device holds and says it is offline: not an error.
    func syncCenter() async {
        guard let h = hearth, centerView?.enrolled == true || hub != nil else { return }
        busy = true
        defer { busy = false }
        do {
            let report = try await h.syncCenter()
            centerOffline = false
            centerSyncLine = report.summary
            centerRefusals = report.refused
        } catch HearthError.Network {
            centerOffline = true
        } catch {
            self.error = centerWords(error)
        }
        try? await loadCenter(h)
    }

    /// Signs up for a session; saved at once, sent if the center is in reach.
    func signUp(sessionId: UInt32, nickname: String, note: String, remindMinutes: UInt16?) async -> Bool {
        if remindMinutes != nil { await Reminders.askPermission() }
        var made: SignUpRecord?
        let ok = await atCenter { h in
            made = try await h.signUp(
                sessionId: sessionId,
                nickname: nickname.trimmingCharacters(in: .whitespacesAndNewlines),
                note: note.trimmingCharacters(in: .whitespacesAndNewlines),
                remindMinutes: remindMinutes,
                utcOffsetMinutes: utcOffsetMinutes
            )
        }
        if ok, let s = made {
            if case .pending = s.status {
                notice = "Saved your sign-up for \(s.title). It reaches the center the next time this phone can; the center decides then."
            } else {
                notice = "Signed up for \(s.title) as \(s.nickname): \(s.statusWords)."
            }
        }
        return ok
    }

    /// Withdraws a sign-up; the notice says whether the center has heard yet.
    func withdraw(signUpId: String) async {
        var done: SignUpRecord?
        let ok = await atCenter { h in
            done = try await h.withdraw(signupId: signUpId, utcOffsetMinutes: utcOffsetMinutes)
        }
        if ok, let s = done {
            notice = s.withdrawing
                ? "Your withdrawal from \(s.title) is saved. It reaches the center the next time this phone can."
                : "Withdrawn from \(s.title). Its reminder is off."
        }
    }

    /// Proposes an activity (the center never learns who).
    func propose(title: String, when: String, note: String) async -> Bool {
        let ok = await atCenter { h in
            _ = try await h.propose(
                title: title.trimmingCharacters(in: .whitespacesAndNewlines),
                when: when.trimmingCharacters(in: .whitespacesAndNewlines),
                note: note.trimmingCharacters(in: .whitespacesAndNewlines)
            )
        }
        if ok { notice = "Proposed. Others can show interest; the center sees how many, never who." }
        return ok
    }

    /// Counts the member as interested in a proposal (once, whichever device).
    func interested(proposalId: UInt32) async {
        let ok = await atCenter { h in _ = try await h.interested(proposalId: proposalId) }
        if ok {
            let words = centerView?.proposals.first { $0.id == proposalId }?.interestedWords
            notice = words.map { "Counted: \($0)." } ?? "Counted."
        }
    }

    // MARK: Sharing with a coach

    /// Reads the consents, the coaches' comments and the plans shared with this device.
    private func loadSharing(_ h: Hearth) async throws {
        consents = try await h.consents()
        coachComments = try await h.coachComments()
        sharedWithMe = try await h.sharedWithMe()
    }

    /// Runs a sharing action; refusals read in the library's own words. Reloads the
    /// sharing lists afterwards, whatever happened.
    @discardableResult
    private func sharing(_ body: (Hearth) async throws -> Void) async -> Bool {
        await act(body, words: sharingWords, reload: loadSharing)
    }

    /// Syncs if enrolled, showing no failure (the action itself worked); whether anyone was reached.
    private func syncQuietly() async -> Bool {
        guard let h = hearth, hub != nil, let report = try? await h.sync() else { return false }
        lastSync = (Date(), SyncWords.describe(report))
        await refresh()
        return report.reached > 0
    }

    /// Whether the journal has a name: a consent carries it.
    var canShare: Bool { !(name ?? "").trimmingCharacters(in: .whitespaces).isEmpty }

    /// Said when the journal has no name.
    static let noName = "Your coach sees a name with anything you share, and this journal doesn't have one yet. Choose one first, then share."

    /// Gives the journal the name a coach will see, when it has none yet: any name the
    /// member likes (it need not be their real one). Then sharing can go ahead.
    @discardableResult
    func saveName(_ name: String) async -> Bool {
        let n = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !n.isEmpty else {
            error = "Type the name your coach will see. Any name you like is fine."
            return false
        }
        let ok = await perform { h in
            try await h.setName(name: n)
            self.name = try h.name()
        }
        if ok { notice = "Saved. A coach you share with will see you as \(n)." }
        return ok
    }

    /// Reads a coach's card (scanned or pasted) and says whom it names. Nothing is shared yet.
    func readCoachCard(_ text: String) -> CoachCardView? {
        guard canShare else {
            error = Self.noName
            return nil
        }
        let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !t.isEmpty else {
            error = "Scan your coach's card, or paste the text of it."
            return nil
        }
        do {
            let card = try checkCoachCard(text: t)
            error = nil
            return card
        } catch {
            self.error = "That isn't a coach's card, or only part of it came through. Ask your coach to show their card again."
            return nil
        }
    }

    /// Shares `sections` with the coach whose card the member confirmed, for `purpose`,
    /// until the end of `lastDay` ("YYYY-MM-DD"), or until `event`, or (both nil) until
    /// the member stops it; then syncs so the center holds it when the coach's phone asks.
    /// Returns the consent, whose code the screen shows; nil with the reason shown.
    func share(
        card: CoachCardView,
        sections: Set<PlanSection>,
        purpose: String,
        lastDay: String?,
        event: String?
    ) async -> ConsentRecord? {
        let why = purpose.trimmingCharacters(in: .whitespacesAndNewlines)
        let until = event?.trimmingCharacters(in: .whitespacesAndNewlines)
        if !canShare { error = Self.noName; return nil }
        if sections.isEmpty { error = "Choose at least one part of your plan to share."; return nil }
        if why.isEmpty {
            error = "Say in a few words why you're sharing. It's part of what you agree to, and your coach sees it."
            return nil
        }
        if let until, until.isEmpty { error = "Say what ends it, for example “I finish the program”."; return nil }
        // In the plan's order.
        let order = plan?.sections.map(\.section) ?? Array(sections)
        var made: ConsentRecord?
        await sharing { h in
            made = try await h.sharePlan(
                cardText: card.text,
                sections: order.filter { sections.contains($0) },
                purpose: why,
                expiresOn: lastDay,
                untilEvent: until
            )
        }
        if made != nil, !(await syncQuietly()) {
            notice = "Shared. It reaches your center the next time this phone syncs there; your coach's phone gets it from the center."
        }
        return made
    }

    /// Stops sharing now, then syncs so the center hears of it at once.
    func revoke(consentId: String) async {
        var ended: ConsentRecord?
        await sharing { h in ended = try await h.revoke(consentId: consentId) }
        guard let c = ended else { return }
        let center = await syncQuietly()
            ? "the center has been told: their phone lets go of your plan when it next syncs."
            : "the center is told the next time this phone syncs."
        notice = "You stopped sharing with \(c.coachName). Nothing you write from now on reaches them, and \(center)"
    }

    /// Ends any consent whose last day has passed, so the list says so even offline.
    func expireConsents() async {
        await sharing { h in _ = try await h.expireConsents() }
    }

    /// This person's card as a coach, under `name` (blank: the journal's name).
    func coachCard(name: String) async -> CoachCardView? {
        let n = name.trimmingCharacters(in: .whitespacesAndNewlines)
        var card: CoachCardView?
        await sharing { h in card = try await h.coachCard(name: n.isEmpty ? nil : n) }
        return card
    }

    /// Takes up a plan by the code the member shows, then syncs to fetch it.
    func acceptShare(code: String) async -> Bool {
        guard let h = hearth else { return false }
        let c = code.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !c.isEmpty else {
            error = "Scan the code on the member's phone, or paste it."
            return false
        }
        busy = true
        do {
            try await h.acceptShare(code: c)
            error = nil
        } catch HearthError.Invalid {
            // The library's words for a bad code are written for the command line.
            busy = false
            error = "That isn't the code for a shared plan, or only part of it came through. Ask them to show it again."
            return false
        } catch {
            busy = false
            self.error = sharingWords(error)
            return false
        }
        busy = false
        try? await loadSharing(h)
        notice = await syncQuietly()
            ? "Added. What they shared shows below."
            : "Added. It arrives the next time this phone syncs with the center."
        return true
    }

    /// Leaves a comment on a shared plan (refused once sharing ended), then syncs so it is on its way.
    func comment(on share: SharedPlanRecord, text: String) async -> Bool {
        let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !t.isEmpty else { return false }
        guard share.active else {
            error = "This sharing has ended, so you can't comment on it any more."
            return false
        }
        guard await sharing({ h in try await h.comment(shareIdText: share.id, text: t) }) else { return false }
        notice = await syncQuietly()
            ? "Sent. \(share.memberName ?? "They") will see it the next time their phone syncs."
            : "Saved. It's sent the next time this phone syncs with the center."
        return true
    }
}
