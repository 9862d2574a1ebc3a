import HearthKit
import SwiftUI

/// Shared with me, for a coach: the card a member scans to share with them, adding a
/// plan by the code the member shows, and each plan shared with this device — where it
/// stands, what the member agreed to, the sections, the supporters, the comments, and a
/// comment box while sharing lasts. Every sentence about a share comes from the
/// library. Opened from the Center tab; the same screen as the Android app's
/// `SharedWithMeScreen`.
struct SharedWithMeView: View {
    @EnvironmentObject private var model: AppModel
    @State private var cardName = ""
    @State private var card: CoachCardView?
    @State private var scanning = false
    @State private var typed = ""

    var body: some View {
        List {
            Section {
                MessageBanner()
                Text("Plans members chose to share with you. You see only the parts they chose, for as long as they choose.")
                    .foregroundStyle(.secondary)
            }

            Section("Your coach card") {
                if let card {
                    VStack(spacing: 12) {
                        // Upper case: a denser QR code for the same card (the library reads either).
                        QRCodeView(content: card.text.uppercased(), label: "Your coach card, for a member to scan")
                            .frame(maxWidth: 280)
                        Text(card.name).font(.title2)
                        Text("Key fingerprint").font(.caption)
                        Text(card.fingerprint).font(.title3.monospaced())
                        Text("The member checks that their phone shows this same name and fingerprint before sharing anything.")
                            .multilineTextAlignment(.center)
                    }
                    .frame(maxWidth: .infinity)
                    Button("Done") { self.card = nil }
                } else {
                    Text("A member scans your card to share parts of their plan with you.")
                    TextField("Your name on the card", text: $cardName)
                        .textInputAutocapitalization(.words)
                    Button {
                        Task { card = await model.coachCard(name: cardName) }
                    } label: {
                        if model.busy { ProgressView() } else { Text("Show my card") }
                    }
                    .disabled(model.busy)
                }
            }

            Section {
                Button("Scan a code") { scanning = true }.disabled(model.busy)
                TextField("Or paste the code", text: $typed)
                    .textInputAutocapitalization(.never)
                    .autocorrectionDisabled()
                Button("Add") {
                    let code = typed
                    Task { if await model.acceptShare(code: code) { typed = "" } }
                }
                .disabled(typed.trimmingCharacters(in: .whitespaces).isEmpty || model.busy)
            } header: {
                Text("Add a plan")
            } footer: {
                Text("After sharing, the member's phone shows a code. Scan it, or paste it if they sent it to you.")
            }

            if model.sharedWithMe.isEmpty {
                Section { Text("Nothing shared with you yet.").foregroundStyle(.secondary) }
            }
            ForEach(model.sharedWithMe, id: \.id) { share in
                Section(share.memberName ?? "A plan on its way") {
                    SharedPlanRows(share: share)
                }
            }

            if !model.sharedWithMe.isEmpty {
                Section {
                    Button {
                        Task { await model.syncNow() }
                    } label: {
                        if model.busy { ProgressView() } else { Text("Check for updates") }
                    }
                    .disabled(model.busy)
                }
            }
        }
        .navigationTitle("Shared with me")
        .onAppear { if cardName.isEmpty { cardName = model.name ?? "" } }
        .sheet(isPresented: $scanning) {
            QRScannerSheet(title: "Scan the code on the member's phone") { code in
                Task { _ = await model.acceptShare(code: code) }
            }
        }
    }
}

/// One plan: where it stands, what the member agreed to, the sections and supporters,
/// the comments, and a comment box only while sharing lasts.
private struct SharedPlanRows: View {
    @EnvironmentObject private var model: AppModel
    let share: SharedPlanRecord
    @State private var draft = ""

    var body: some View {
        VStack(alignment: .leading, spacing: 6) {
            Text(share.statusWords)
                .font(.subheadline.bold())
                .foregroundStyle(share.active ? Palette.ember : Color.secondary)
            if share.consentWords != nil, !share.consentValid {
                Text("What they agreed to doesn't check out on this phone, so don't rely on it. Ask them to share again.")
                    .foregroundStyle(.red)
            }
            if !share.sectionsWords.isEmpty { Text("What: \(share.sectionsWords)").font(.subheadline) }
            if let purpose = share.purpose { Text("Why: \(purpose)").font(.subheadline) }
            if let until = share.untilWords { Text(until).font(.subheadline) }
        }
        if let words = share.consentWords {
            DisclosureGroup("What they agreed to") {
                Text(words).font(.caption)
            }
        }

        ForEach(share.sections, id: \.section) { s in
            VStack(alignment: .leading, spacing: 4) {
                Text(s.title).font(.headline)
                if !s.text.isEmpty { Text(s.text) }
                ForEach(Array(s.items.enumerated()), id: \.offset) { _, item in
                    Text("•  \(item)")
                }
                if s.text.isEmpty, s.items.isEmpty {
                    Text("Nothing written here yet.").font(.caption).foregroundStyle(.secondary)
                }
            }
        }
        if !share.supporters.isEmpty {
            VStack(alignment: .leading, spacing: 4) {
                Text("People who can help").font(.subheadline.bold())
                ForEach(share.supporters, id: \.self) { s in
                    Label {
                        VStack(alignment: .leading) {
                            Text(s.name)
                            let line = [s.role, s.contact].filter { !$0.isEmpty }.joined(separator: " · ")
                            if !line.isEmpty { Text(line).font(.caption).foregroundStyle(.secondary) }
                        }
                    } icon: {
                        Image(systemName: "person")
                    }
                }
            }
        }

        ForEach(share.comments, id: \.id) { c in
            VStack(alignment: .leading, spacing: 2) {
                Text(c.byMe ? "You, \(c.dayWords)" : c.dayWords).font(.caption).foregroundStyle(.secondary)
                Text(c.text)
            }
        }
        if share.active {
            VStack(alignment: .leading, spacing: 4) {
                TextField("A comment for them", text: $draft, axis: .vertical)
                Text("They see it with their plan. Only you and they can read it.")
                    .font(.caption).foregroundStyle(.secondary)
            }
            Button("Send") {
                let text = draft
                Task { if await model.comment(on: share, text: text) { draft = "" } }
            }
            .disabled(draft.trimmingCharacters(in: .whitespaces).isEmpty || model.busy)
        }
    }
}
