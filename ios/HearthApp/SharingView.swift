import HearthKit
import SwiftUI

/// Sharing: who can see which parts of the plan, since when, until when and why (each
/// consent in the library's words, with its history), "Stop sharing" with a
/// confirmation, and "Share with a coach": scan or paste the coach's card, confirm the
/// name and fingerprint match the coach's screen, choose sections (none chosen to begin
/// with), why and until when, then show the coach the code. A journal without a name
/// first asks for the one the coach will see (any name). Opened from My Plan; the
/// same screen as the Android app's `SharingScreen`.
struct SharingView: View {
    @EnvironmentObject private var model: AppModel
    @State private var step: ShareStep = .start
    @State private var scanning = false
    @State private var typed = ""
    @State private var newName = ""
    @State private var stopping: ConsentRecord?

    /// Where "Share with a coach" stands.
    enum ShareStep {
        case start
        /// The member compares the card's name and fingerprint with the coach's screen.
        case confirm(CoachCardView)
        /// The member said it is the right coach: choose sections, why, until when.
        case choose(CoachCardView)
        /// Shared (or shown again): the code for the coach's phone.
        case code(ConsentRecord)
    }

    var body: some View {
        List {
            Section {
                MessageBanner()
                Text("Who can see which parts of your plan, since when, until when, and why. Only you decide, and you can stop at any time.")
                    .foregroundStyle(.secondary)
            }

            Section("Share with a coach") {
                switch step {
                case .start:
                    startRows
                case let .confirm(card):
                    confirmRows(card)
                case let .choose(card):
                    ShareForm(card: card, onShared: { step = .code($0) }, onCancel: { step = .start })
                case let .code(consent):
                    codeRows(consent)
                }
            }

            Section("Who can see your plan") {
                if model.consents.isEmpty {
                    Text("You haven't shared any of your plan. It stays on your own devices.")
                        .foregroundStyle(.secondary)
                }
                ForEach(model.consents, id: \.id) { c in
                    ConsentRow(
                        consent: c,
                        onShowCode: { step = .code(c) },
                        onStop: { stopping = c }
                    )
                }
            }

            if model.hub != nil {
                Section {
                    Button {
                        Task { await model.syncNow() }
                    } label: {
                        if model.busy { ProgressView() } else { Text("Sync now") }
                    }
                    .disabled(model.busy)
                } footer: {
                    Text("Syncing tells the center at once when you stop sharing, and brings your coach's comments.")
                }
            }
        }
        .navigationTitle("Sharing your plan")
        .task { await model.expireConsents() }
        .sheet(isPresented: $scanning) {
            QRScannerSheet(title: "Scan the card on your coach's phone") { text in
                read(text)
            }
        }
        .confirmationDialog(
            "Stop sharing?",
            isPresented: Binding(get: { stopping != nil }, set: { if !$0 { stopping = nil } }),
            titleVisibility: .visible,
            presenting: stopping
        ) { c in
            Button("Stop sharing", role: .destructive) {
                Task {
                    await model.revoke(consentId: c.id)
                    if case let .code(shown) = step, shown.id == c.id { step = .start }
                }
            }
        } message: { c in
            Text("\(c.coachName) won't see your \(c.sectionsWords) any more. Nothing you write from now on reaches them, and their phone lets go of what it holds once the center hears of it, the next time this phone syncs. You can share with them again later.")
        }
    }

    @ViewBuilder
    private var startRows: some View {
        if !model.canShare {
            Text("Your coach sees a name with anything you share, and this journal doesn't have one yet. Choose one here first.")
            VStack(alignment: .leading, spacing: 4) {
                TextField("The name your coach will see", text: $newName)
                    .textInputAutocapitalization(.words)
                    .autocorrectionDisabled()
                    .submitLabel(.done)
                Text("Any name you like; it need not be your real name.")
                    .font(.caption).foregroundStyle(.secondary)
            }
            Button {
                Task { if await model.saveName(newName) { newName = "" } }
            } label: {
                if model.busy { ProgressView() } else { Text("Save") }
            }
            .disabled(newName.trimmingCharacters(in: .whitespaces).isEmpty || model.busy)
        } else {
            Text("Ask your coach to open Hearth and show their coach card (Center › Shared with me). Then scan it here.")
            if model.hub == nil {
                Text("Your coach's phone gets what you share through your center. Enroll at your center (Center tab) so it can reach them.")
                    .font(.caption).foregroundStyle(.secondary)
            }
            Button("Scan your coach's card") { scanning = true }
                .disabled(model.busy)
            TextField("Or paste the card they sent you", text: $typed)
                .textInputAutocapitalization(.never)
                .autocorrectionDisabled()
            Button("Read card") {
                read(typed)
                typed = ""
            }
            .disabled(typed.trimmingCharacters(in: .whitespaces).isEmpty || model.busy)
        }
    }

    private func read(_ text: String) {
        if let card = model.readCoachCard(text) { step = .confirm(card) }
    }

    @ViewBuilder
    private func confirmRows(_ card: CoachCardView) -> some View {
        VStack(alignment: .leading, spacing: 8) {
            Text("Is this your coach?").font(.headline)
            Text(card.name).font(.title2)
            Text("Key fingerprint").font(.caption)
            Text(card.fingerprint).font(.title3.monospaced())
            Text(card.words).font(.caption).foregroundStyle(.secondary)
        }
        Text("Is this the name and fingerprint on your coach's screen?")
        Button("Yes, it matches") { step = .choose(card) }
        Button("No, it doesn't", role: .destructive) {
            step = .start
            model.notice = "Nothing was shared. Ask your coach to show their card again, and check the name and fingerprint match."
        }
    }

    @ViewBuilder
    private func codeRows(_ consent: ConsentRecord) -> some View {
        if let code = consent.shareCode {
            VStack(spacing: 12) {
                Text("Show this to \(consent.coachName)").font(.headline)
                Text("On their phone: Center › Shared with me › Scan a code. Their phone gets what you shared through the center.")
                    .multilineTextAlignment(.center)
                // Upper case: a denser QR code for the same code (the library reads either).
                QRCodeView(content: code.uppercased(), label: "The code for your coach's phone")
                    .frame(maxWidth: 280)
                Text("Or send them this code:").font(.caption)
                Text(code).font(.caption.monospaced()).textSelection(.enabled)
                Text("\(consent.sectionsWords) · \(consent.untilWords)")
                    .font(.caption).foregroundStyle(.secondary)
                    .multilineTextAlignment(.center)
            }
            .frame(maxWidth: .infinity)
        }
        Button("Done") { step = .start }
    }
}

/// Which sections (none chosen to begin with), why, and until when.
private struct ShareForm: View {
    @EnvironmentObject private var model: AppModel
    let card: CoachCardView
    let onShared: (ConsentRecord) -> Void
    let onCancel: () -> Void

    enum Until: Hashable { case iStopIt, lastDay, event }

    @State private var chosen: Set<PlanSection> = []
    @State private var purpose = ""
    @State private var until: Until = .iStopIt
    @State private var lastDay = Calendar.current.date(byAdding: .month, value: 3, to: Date()) ?? Date()
    @State private var event = ""

    var body: some View {
        Text("What can \(card.name) see? Nothing is chosen until you choose it.")
        ForEach(model.plan?.sections ?? [], id: \.section) { s in
            Toggle(s.title, isOn: Binding(
                get: { chosen.contains(s.section) },
                set: { on in if on { chosen.insert(s.section) } else { chosen.remove(s.section) } }
            ))
        }
        VStack(alignment: .leading, spacing: 4) {
            TextField("Why are you sharing?", text: $purpose, axis: .vertical)
            Text("For example, “support between meetings”. Your coach sees this too.")
                .font(.caption).foregroundStyle(.secondary)
        }
        Picker("Until when?", selection: $until) {
            Text("Until I stop it").tag(Until.iStopIt)
            Text("Until a date").tag(Until.lastDay)
            Text("Until something happens").tag(Until.event)
        }
        if until == .lastDay {
            DatePicker("Last day", selection: $lastDay, in: Date()..., displayedComponents: .date)
        }
        if until == .event {
            TextField("Until… (for example, I finish the program)", text: $event)
        }
        Text("Your coach sees only what you choose, and can leave comments. Nothing else in your journal is shared. You can stop at any time, here.")
            .font(.caption).foregroundStyle(.secondary)
        Button {
            Task {
                if let made = await model.share(
                    card: card,
                    sections: chosen,
                    purpose: purpose,
                    lastDay: until == .lastDay ? Self.day(lastDay) : nil,
                    event: until == .event ? event : nil
                ) {
                    onShared(made)
                }
            }
        } label: {
            if model.busy { ProgressView() } else { Text("Share with \(card.name)").bold() }
        }
        .disabled(model.busy)
        Button("Cancel", action: onCancel)
    }

    /// "2027-03-31": the day as the member picked it, in their calendar.
    static func day(_ date: Date) -> String {
        let c = Calendar.current.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", c.year ?? 1970, c.month ?? 1, c.day ?? 1)
    }
}

/// One consent: whom, what, since and until when, why, where it stands, its history.
private struct ConsentRow: View {
    let consent: ConsentRecord
    let onShowCode: () -> Void
    let onStop: () -> Void
    @State private var open = false

    var body: some View {
        VStack(alignment: .leading, spacing: 6) {
            Text(consent.coachName).font(.headline)
            Text(consent.statusWords)
                .font(.subheadline.bold())
                .foregroundStyle(statusColor)
            Text("What: \(consent.sectionsWords)").font(.subheadline)
            Text("Why: \(consent.purpose)").font(.subheadline)
            Text("\(consent.sinceWords), \(consent.untilWords)").font(.subheadline)
            Text("Their key fingerprint: \(consent.coachFingerprint)")
                .font(.caption).foregroundStyle(.secondary)
            DisclosureGroup("What you agreed to, and its history", isExpanded: $open) {
                VStack(alignment: .leading, spacing: 4) {
                    Text(consent.words).font(.caption)
                    Text("History").font(.caption.bold()).padding(.top, 4)
                    ForEach(consent.history, id: \.self) { h in
                        Text("•  \(h.words)").font(.caption)
                    }
                }
            }
            .font(.subheadline)
            if consent.status == .active {
                HStack {
                    if consent.shareCode != nil {
                        Button("Show the code again", action: onShowCode).buttonStyle(.borderless)
                    }
                    Spacer()
                    Button("Stop sharing", role: .destructive, action: onStop).buttonStyle(.bordered)
                }
            }
        }
    }

    private var statusColor: Color {
        switch consent.status {
        case .active: return Palette.ember
        case .invalid: return .red
        default: return .secondary
        }
    }
}
