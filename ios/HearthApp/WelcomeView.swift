import HearthKit
import SwiftUI
import UniformTypeIdentifiers

/// The first screen on a device with no journal: start one, join the journal on
/// another of the member's devices (scan its invite), or restore a backup file.
/// No account, no phone number, no real name: a nickname is optional.
struct WelcomeView: View {
    @EnvironmentObject private var model: AppModel
    @State private var name = ""
    @State private var ticket = ""
    @State private var scanning = false
    @State private var importing = false
    @State private var backup: Data?
    @State private var passphrase = ""

    var body: some View {
        NavigationStack {
            Form {
                Section {
                    Text("A private journal for your recovery. It lives on this phone. No account, no phone number, no real name.")
                    MessageBanner()
                }
                Section {
                    TextField("What should Hearth call you?", text: $name)
                    Button("Start my journal") { Task { await model.create(name: name) } }
                        .buttonStyle(.borderedProminent)
                } header: {
                    Text("Start your journal")
                } footer: {
                    Text("The name is optional. A nickname is fine, and it stays on your devices.")
                }
                Section {
                    Text("On your other device, open Devices and tap “Add a device”. Then scan the code it shows.")
                    Button("Scan the code") { scanning = true }
                    TextField("Or paste the code", text: $ticket)
                        .textInputAutocapitalization(.never)
                        .autocorrectionDisabled()
                    Button("Join") { Task { await model.join(ticket: ticket) } }
                        .disabled(ticket.trimmingCharacters(in: .whitespaces).isEmpty)
                } header: {
                    Text("I already use Hearth on another device")
                }
                Section {
                    Text("Choose a Hearth backup file and type its passphrase.")
                    Button("Choose backup file") { importing = true }
                } header: {
                    Text("Restore from a backup")
                }
                Section {
                    Text("Everything you write is encrypted and kept on your devices. Hearth has no ads, no analytics and no tracking.")
                        .font(.footnote).foregroundStyle(.secondary)
                }
            }
            .navigationTitle("Welcome to Hearth")
        }
        .sheet(isPresented: $scanning) {
            QRScannerSheet(title: "Scan the code on your other device") { text in
                Task { await model.join(ticket: text) }
            }
        }
        .fileImporter(isPresented: $importing, allowedContentTypes: [.data]) { result in
            guard case let .success(url) = result else { return }
            let scoped = url.startAccessingSecurityScopedResource()
            defer { if scoped { url.stopAccessingSecurityScopedResource() } }
            if let data = try? Data(contentsOf: url) {
                backup = data
            } else {
                model.error = "That file couldn't be opened. Try choosing it again."
            }
        }
        .alert("Backup passphrase", isPresented: Binding(get: { backup != nil }, set: { if !$0 { backup = nil } })) {
            SecureField("Passphrase", text: $passphrase)
            Button("Restore") {
                if let data = backup {
                    let p = passphrase
                    passphrase = ""
                    Task { await model.restore(backup: data, passphrase: p) }
                }
            }
            Button("Cancel", role: .cancel) { passphrase = "" }
        }
    }
}
