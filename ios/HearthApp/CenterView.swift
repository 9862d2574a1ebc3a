import HearthKit
import SwiftUI

/// Center: enroll by scanning the code at the desk (the center then keeps an
/// encrypted copy it cannot read), sync now, live sync on the center's Wi-Fi, what
/// sync is doing, the way to the center's groups (`GroupsView`), and for a coach the
/// plans members shared with them (`SharedWithMeView`).
struct CenterView: View {
    @EnvironmentObject private var model: AppModel
    @State private var scanning = false
    @State private var typed = ""

    var body: some View {
        List {
            Section {
                MessageBanner()
                Text("Sync with the drop-in center, even when the internet is down.").foregroundStyle(.secondary)
            }

            if let hub = model.hub {
                Section("You're enrolled") {
                    Text("The center's hub (\(hub.shortId)) keeps an encrypted copy of your journal. It can't read it.")
                }
                Section("Groups and resources") {
                    NavigationLink {
                        GroupsView()
                    } label: {
                        VStack(alignment: .leading, spacing: 4) {
                            Text("See what's on")
                            Text("What's on at your center, your sign-ups, members' ideas, and where else to get help.")
                                .font(.caption).foregroundStyle(.secondary)
                        }
                    }
                }
            } else {
                Section("Enroll at your center") {
                    Text("Ask at the desk for the Hearth code. The center will keep an encrypted copy of your journal, so nothing is lost if your phone is. It can't read it, and staff can't either.")
                    Button("Scan the center's code") { scanning = true }
                        .disabled(model.busy)
                    TextField("Or paste the code", text: $typed)
                        .textInputAutocapitalization(.never)
                        .autocorrectionDisabled()
                    Button("Enroll") {
                        let t = typed
                        Task {
                            await model.enroll(ticket: t)
                            if model.hub != nil { typed = "" }
                        }
                    }
                    .disabled(typed.trimmingCharacters(in: .whitespaces).isEmpty || model.busy)
                }
            }

            Section("If you're a coach") {
                NavigationLink {
                    SharedWithMeView()
                } label: {
                    VStack(alignment: .leading, spacing: 4) {
                        Text("Shared with me")
                        Text("Your coach card, and the plans members chose to share with you.")
                            .font(.caption).foregroundStyle(.secondary)
                    }
                }
            }

            Section {
                Toggle(isOn: Binding(
                    get: { model.online },
                    set: { on in
                        model.liveSyncWanted = on
                        Task { await model.setOnline(on) }
                    }
                )) {
                    VStack(alignment: .leading) {
                        Text("Live sync")
                        Text("While Hearth is open, keep in step with the center and your devices on this Wi-Fi.")
                            .font(.caption).foregroundStyle(.secondary)
                    }
                }
                Text(model.describe(model.status))
                Button {
                    Task { await model.syncNow() }
                } label: {
                    if model.busy { ProgressView() } else { Text("Sync now") }
                }
                .disabled(model.busy)
                if let last = model.lastSync {
                    Text("\(last.at.formatted(date: .omitted, time: .shortened)): \(last.text)").font(.caption)
                }
            }

            if !model.activity.isEmpty {
                Section("Recently") {
                    ForEach(model.activity) { line in
                        HStack(alignment: .top) {
                            Text(line.at, style: .time).font(.caption.monospacedDigit())
                            Text(line.text).font(.caption)
                        }
                    }
                }
            }

            Section {
                Text("Nothing in your journal is shared with anyone, the center included, unless you choose to share part of your plan with a coach. The center only stores a copy it can't open.")
                    .font(.footnote).foregroundStyle(.secondary)
            }
        }
        .navigationTitle("Your center")
        .sheet(isPresented: $scanning) {
            QRScannerSheet(title: "Scan the code at the desk") { ticket in
                Task { await model.enroll(ticket: ticket) }
            }
        }
    }
}
