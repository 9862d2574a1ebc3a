import HearthKit
import SwiftUI

/// Groups at the center: the member's sign-ups (with withdraw), programs and their
/// sessions (places left, sign up), members' proposals ("I'm interested", the count),
/// and the resource directory. Reads offline; every word that can be decided in Rust
/// comes from the library. Opened from the Center tab.
struct GroupsView: View {
    @EnvironmentObject private var model: AppModel
    @State private var signingUp: SignUpTarget?
    @State private var proposing = false
    @State private var withdrawing: SignUpRecord?

    var body: some View {
        List {
            Section {
                MessageBanner()
                Text("Sign up under any name you like. The center never sees your journal.")
                    .foregroundStyle(.secondary)
            }

            if let view = model.centerView, view.enrolled {
                Section {
                    if model.centerOffline {
                        Text("Offline: showing what this phone last received from the center. Sign-ups you make are kept and sent next time.")
                    } else if let line = model.centerSyncLine {
                        Text(line)
                    }
                    ForEach(model.centerRefusals, id: \.self) { Text($0).foregroundStyle(.orange) }
                    if let at = view.receivedMs {
                        Text("From the center, \(Self.date(at).formatted(date: .abbreviated, time: .shortened))")
                            .font(.caption).foregroundStyle(.secondary)
                    }
                    Button {
                        Task { await model.syncCenter() }
                    } label: {
                        if model.busy { ProgressView() } else { Text("Check for updates") }
                    }
                    .disabled(model.busy)
                }
            }

            if let words = model.centerView?.emptyWords {
                Section { Text(words) }
            }

            if !model.upcomingSignUps.isEmpty {
                Section("Your sign-ups") {
                    ForEach(model.upcomingSignUps, id: \.id) { s in
                        VStack(alignment: .leading, spacing: 4) {
                            Text(s.title).font(.headline)
                            Text("\(Self.span(s.startsMs, s.endsMs)) · as \(s.nickname) · \(s.statusWords)")
                                .font(.subheadline)
                            if let at = s.remindAtMs {
                                Text("Reminder at \(Self.date(at).formatted(date: .abbreviated, time: .shortened)), on this phone only")
                                    .font(.caption).foregroundStyle(.secondary)
                            }
                            if s.canWithdraw {
                                Button("Withdraw", role: .destructive) { withdrawing = s }
                                    .buttonStyle(.borderless)
                                    .disabled(model.busy)
                            }
                        }
                    }
                }
            }

            if let programs = model.centerView?.programs, !programs.isEmpty {
                Section("Groups and activities") {
                    ForEach(programs, id: \.id) { p in
                        programRow(p)
                    }
                }
            }

            if let view = model.centerView, view.enrolled {
                Section {
                    Button("Suggest something") { proposing = true }.disabled(model.busy)
                    if view.proposals.isEmpty { Text("No ideas yet. Be the first.").foregroundStyle(.secondary) }
                    ForEach(view.proposals, id: \.id) { p in
                        VStack(alignment: .leading, spacing: 4) {
                            Text(p.title).font(.headline)
                            if !p.when.isEmpty { Text("When: \(p.when)").font(.caption) }
                            if !p.note.isEmpty { Text(p.note).font(.subheadline) }
                            HStack {
                                Text(p.interestedWords).font(.caption).foregroundStyle(.secondary)
                                Spacer()
                                if p.adopted {
                                    Text("Now a group").font(.caption.bold())
                                } else {
                                    Button("I'm interested") { Task { await model.interested(proposalId: p.id) } }
                                        .buttonStyle(.bordered)
                                        .disabled(model.busy)
                                }
                            }
                        }
                    }
                } header: {
                    Text("Ideas from members")
                } footer: {
                    Text("The center sees how many are interested, never who.")
                }

                Section("Other places that can help") {
                    if view.resources.isEmpty { Text("Your center hasn't listed any yet.").foregroundStyle(.secondary) }
                    ForEach(view.resources, id: \.id) { r in
                        VStack(alignment: .leading, spacing: 4) {
                            Text(r.name).font(.headline)
                            Text(r.kindLabel).font(.caption).foregroundStyle(Palette.ember)
                            ForEach([r.description, r.hours, r.contact].filter { !$0.isEmpty }, id: \.self) { line in
                                Text(line).font(.subheadline)
                            }
                        }
                    }
                }
            }
        }
        .navigationTitle("Groups")
        .task { await model.syncCenter() }
        .refreshable { await model.syncCenter() }
        .sheet(item: $signingUp) { target in
            SignUpSheet(target: target).environmentObject(model)
        }
        .sheet(isPresented: $proposing) {
            ProposeSheet().environmentObject(model)
        }
        .confirmationDialog(
            "Withdraw?",
            isPresented: Binding(get: { withdrawing != nil }, set: { if !$0 { withdrawing = nil } }),
            titleVisibility: .visible,
            presenting: withdrawing
        ) { s in
            Button("Withdraw", role: .destructive) { Task { await model.withdraw(signUpId: s.id) } }
        } message: { s in
            Text("The center will be told you're not coming to \(s.title), and its reminder is turned off.")
        }
    }

    @ViewBuilder
    private func programRow(_ p: ProgramView) -> some View {
        VStack(alignment: .leading, spacing: 6) {
            Text(p.title).font(.headline)
            Text(p.kindLabel).font(.caption).foregroundStyle(Palette.ember)
            if !p.description.isEmpty { Text(p.description).font(.subheadline) }
            if !p.facts.isEmpty { Text(p.facts).font(.caption).foregroundStyle(.secondary) }
            if p.sessions.isEmpty { Text("No sessions coming up.").font(.caption) }
            ForEach(p.sessions, id: \.id) { s in
                HStack {
                    VStack(alignment: .leading) {
                        Text(Self.span(s.startsMs, s.endsMs)).font(.subheadline)
                        Text(s.placesWords).font(.caption).foregroundStyle(.secondary)
                    }
                    Spacer()
                    if let mine = s.mySignup {
                        Button("Withdraw", role: .destructive) {
                            withdrawing = model.signUps.first { $0.id == mine }
                        }
                        .buttonStyle(.borderless)
                        .disabled(model.busy)
                    } else if s.canSignUp {
                        Button("Sign up") {
                            signingUp = SignUpTarget(program: p, session: s, lastNickname: model.centerView?.lastNickname)
                        }
                        .buttonStyle(.bordered)
                        .disabled(model.busy)
                    }
                }
            }
        }
    }

    static func date(_ ms: UInt64) -> Date { Date(timeIntervalSince1970: Double(ms) / 1000) }

    /// "3 Dec 2025 at 15:00 – 16:00" in the device's zone and locale.
    static func span(_ starts: UInt64, _ ends: UInt64) -> String {
        "\(date(starts).formatted(date: .abbreviated, time: .shortened)) – \(date(ends).formatted(date: .omitted, time: .shortened))"
    }
}

/// The session the sign-up sheet is for.
struct SignUpTarget: Identifiable {
    let program: ProgramView
    let session: SessionView
    let lastNickname: String?
    var id: UInt32 { session.id }
}

/// Nickname, note, reminder.
private struct SignUpSheet: View {
    @EnvironmentObject private var model: AppModel
    @Environment(\.dismiss) private var dismiss
    let target: SignUpTarget
    @State private var nickname = ""
    @State private var note = ""
    /// The chosen reminder's minutes (nil: none).
    @State private var remind: UInt16?

    var body: some View {
        NavigationStack {
            Form {
                Section {
                    Text(GroupsView.span(target.session.startsMs, target.session.endsMs))
                    Text(target.session.placesWords).foregroundStyle(.secondary)
                }
                Section {
                    TextField("What should the center call you?", text: $nickname)
                        .textInputAutocapitalization(.words)
                        .autocorrectionDisabled()
                    TextField("A note for the staff (optional)", text: $note, axis: .vertical)
                } footer: {
                    Text("Any name you like. It's only used at this center.")
                }
                Section {
                    Picker("Remind me", selection: $remind) {
                        ForEach(model.reminderOptions, id: \.label) { c in
                            Text(c.label).tag(c.minutes)
                        }
                    }
                } footer: {
                    Text("The reminder stays on this phone and only says the time.")
                }
                Section { MessageBanner() }
            }
            .navigationTitle(target.program.title)
            .navigationBarTitleDisplayMode(.inline)
            .toolbar {
                ToolbarItem(placement: .cancellationAction) { Button("Cancel") { dismiss() } }
                ToolbarItem(placement: .confirmationAction) {
                    Button("Sign up") {
                        Task {
                            let ok = await model.signUp(
                                sessionId: target.session.id,
                                nickname: nickname,
                                note: note,
                                remindMinutes: remind
                            )
                            // On an error the sheet stays open, the library's words shown in it.
                            if ok { dismiss() }
                        }
                    }
                    .disabled(model.busy)
                }
            }
            .onAppear {
                nickname = target.lastNickname ?? ""
                remind = model.reminderOptions.first { $0.isDefault }?.minutes
            }
        }
    }
}

/// "Suggest something".
private struct ProposeSheet: View {
    @EnvironmentObject private var model: AppModel
    @Environment(\.dismiss) private var dismiss
    @State private var title = ""
    @State private var when = ""
    @State private var note = ""

    var body: some View {
        NavigationStack {
            Form {
                Section {
                    TextField("What would you like to do?", text: $title)
                    TextField("When could it happen? (optional)", text: $when)
                    TextField("Anything else (optional)", text: $note, axis: .vertical)
                } footer: {
                    Text("The center sees how many are interested, never who suggested it.")
                }
                Section { MessageBanner() }
            }
            .navigationTitle("Suggest something")
            .navigationBarTitleDisplayMode(.inline)
            .toolbar {
                ToolbarItem(placement: .cancellationAction) { Button("Cancel") { dismiss() } }
                ToolbarItem(placement: .confirmationAction) {
                    Button("Suggest it") {
                        Task { if await model.propose(title: title, when: when, note: note) { dismiss() } }
                    }
                    .disabled(model.busy || title.trimmingCharacters(in: .whitespaces).isEmpty)
                }
            }
        }
    }
}
