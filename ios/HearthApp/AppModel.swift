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

/// The app's one view of the member's journal: the `Hearth` object, the state the
/// screens show (`@Published`, driven by the library's listener) and every action.
/// The same shape as the Android app's `HearthRepository` and models.
@MainActor
final class AppModel: ObservableObject {
    enum Phase: Equatable {
        case opening
        case welcome
        case working(String)
        case ready
        case failed(String)
    }

    @Published private(set) var phase: Phase = .opening
    @Published private(set) var checkIns: [CheckIn] = []
    @Published private(set) var plan: Plan?
    @Published private(set) var devices: [DeviceInfo] = []
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

    /// Whether the member turned live sync on (remembered on this device only).
    @Published var liveSyncWanted: Bool {
        didSet { UserDefaults.standard.set(liveSyncWanted, forKey: Self.liveSyncKey) }
    }

    private(set) var name: String?
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

    /// Joins the journal of the device that shows `ticket`.
    func join(ticket: String) async {
        let t = ticket.trimmingCharacters(in: .whitespacesAndNewlines)
        await setup("Connecting to your other device… Keep both close by and on the same Wi-Fi.") { [dataDir, keys] in
            try await joinHearth(dataDir: dataDir.path, keyStore: keys, ticketText: t, bind: nil)
        }
    }

    /// Restores an encrypted backup as a new device.
    func restore(backup: Data, passphrase: String) async {
        await setup("Restoring your backup…") { [dataDir, keys] in
            try await restoreHearth(dataDir: dataDir.path, keyStore: keys, backup: backup, passphrase: passphrase, bind: nil)
        }
    }

    private func setup(_ what: String, _ open: @escaping () async throws -> Hearth) async {
        guard hearth == nil else { return }
        phase = .working(what)
        do {
            if !hearthExists(dataDir: dataDir.path) {
                // A seed left by an earlier install (the Keychain outlives the app)
                // must not become this journal's device identity.
                keys.forget()
            }
            try prepareDataDir()
            let opened = try await open()
            ready(opened)
        } catch {
            self.error = plainWords(error)
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
        if case let .deviceJoined(device) = s {
            invite = nil
            notice = "A new device joined your journal (\(device))."
            Task { await refresh() }
        }
    }

    // MARK: Words

    /// The center's hub, once enrolled.
    var hub: DeviceInfo? { devices.first { $0.role == "store" } }

    /// How to call a peer in a sentence.
    func peerName(_ shortId: String) -> String {
        guard let d = devices.first(where: { $0.shortId == shortId }) else { return "device \(shortId)" }
        return d.role == "store" ? "the center" : "your device \(shortId)"
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
        await perform { h in
            let i = try await h.invite(validSecs: seconds)
            online = true
            invite = PendingInvite(ticket: i.ticket, expires: Date().addingTimeInterval(TimeInterval(seconds)))
        }
    }

    /// Removes a device: it can read nothing written from now on.
    func removeDevice(id: String) async {
        let ok = await perform { h in
            try await h.removeDevice(id: id)
            devices = try await h.devices()
        }
        if ok { notice = "Removed. That device can't read anything you write from now on." }
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
        guard devices.contains(where: { !$0.thisDevice && $0.role != "removed" }) else {
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
}
