import HearthKit
import SwiftUI
import UniformTypeIdentifiers

/// Devices: every identity that can reach this journal (the member's phones and
/// tablets, backup keys, the center's hub) with what it is and whether it still has
/// access. "Add a device" shows a one-time QR code; when the new device presents it,
/// both show one code and the member compares them before it is added. A lost or old
/// device can be removed so it sees nothing written from then on; the library's
/// advice about backups shows at the top, with a way to make one.
struct DevicesView: View {
    @EnvironmentObject private var model: AppModel
    @State private var removing: DeviceInfo?
    @State private var makingBackup = false

    var body: some View {
        List {
            Section {
                MessageBanner()
                Text("The phones and tablets that share your journal.").foregroundStyle(.secondary)
            }
            if model.thisDeviceRemoved {
                Section {
                    AdviceRow(text: "This device was removed from your journal. What it already had stays readable here, but nothing new reaches it and it can't make changes.")
                }
            }
            if let advice = model.backup?.advice {
                Section {
                    AdviceRow(text: advice)
                    Button("Make a backup") { makingBackup = true }
                        .disabled(model.busy)
                }
            }
            Section {
                if let request = model.joinRequest {
                    JoinRequestCard(request: request)
                } else if model.adding {
                    HStack(spacing: 12) {
                        ProgressView()
                        Text("Adding your device…")
                    }
                } else if let invite = model.invite {
                    InviteCard(invite: invite) { model.invite = nil }
                } else {
                    Button("Add a device") { Task { await model.createInvite() } }
                        .disabled(model.busy || model.thisDeviceRemoved)
                }
            }
            Section {
                // In the library's order: current ones first, this device first among them.
                ForEach(model.devices, id: \.id) { d in
                    DeviceRowView(device: d)
                        .swipeActions {
                            if !d.thisDevice && d.state == .active {
                                Button("Remove", role: .destructive) { removing = d }
                            }
                        }
                }
            } footer: {
                Text("Setting up a new phone? Start Hearth on it and choose “I already use Hearth on another device”.")
            }
        }
        .navigationTitle("Your devices")
        .confirmationDialog(
            "Remove this device?",
            isPresented: Binding(get: { removing != nil }, set: { if !$0 { removing = nil } }),
            titleVisibility: .visible,
            presenting: removing
        ) { d in
            Button("Remove", role: .destructive) { Task { await model.removeDevice(id: d.id) } }
        } message: { d in
            Text(removalMessage(d))
        }
        .sheet(isPresented: $makingBackup) {
            BackupSheet().environmentObject(model)
        }
    }

    /// What removing `d` means, and that backups stop working too.
    @MainActor
    private func removalMessage(_ d: DeviceInfo) -> String {
        let consequence: String
        switch d.kind {
        case .hub:
            consequence = "The center will stop keeping a copy of what you write from now on. You can enroll again at the desk any time."
        case .backupKey:
            consequence = "The backup made with this key will no longer restore your journal. Make a new backup afterwards."
        case .device:
            consequence = "It won't be able to read anything you write from now on. What is already on it stays there, so if it was lost, this is the right thing to do."
        }
        if model.backup?.state == .current && d.kind != .backupKey {
            return consequence + "\n\nYour earlier backups will stop restoring your journal too, so make a new backup afterwards."
        }
        return consequence
    }
}

/// Something the member should act on.
private struct AdviceRow: View {
    let text: String

    var body: some View {
        Label {
            Text(text)
        } icon: {
            Image(systemName: "exclamationmark.shield").foregroundStyle(.orange)
        }
    }
}

private struct DeviceRowView: View {
    let device: DeviceInfo

    var body: some View {
        Label {
            VStack(alignment: .leading, spacing: 2) {
                Text(title)
                Text("\(detail) · \(device.shortId)").font(.caption).foregroundStyle(.secondary)
            }
        } icon: {
            Image(systemName: icon)
                .foregroundStyle(device.state == .active ? Color.accentColor : Color.secondary)
                .accessibilityLabel(device.kindLabel)
        }
    }

    private var icon: String {
        switch device.kind {
        case .device: return "iphone"
        case .backupKey: return "key"
        case .hub: return "house"
        }
    }

    private var title: String {
        if device.thisDevice { return "This device" }
        switch device.kind {
        case .hub: return "The center's hub"
        case .backupKey: return "Backup key"
        case .device: return "Device \(device.shortId)"
        }
    }

    private var detail: String {
        guard device.state == .active else {
            // The library's words ("removed", or removed in a conflict and why).
            let label = device.stateLabel
            return label.prefix(1).uppercased() + label.dropFirst()
        }
        switch device.role {
        case .owner, .writer: return "Can read and write your journal"
        case .reader: return "Can read your journal"
        case .store: return "Keeps an encrypted copy it cannot read"
        case .recovery: return "Lets your backup file restore your journal on a new phone"
        case .commenter: return "Can read what you shared and add comments"
        }
    }
}

/// The six digits both devices show, large ("123 456").
struct PairingCodeView: View {
    let code: String

    var body: some View {
        Text(code)
            .font(.system(size: 44, weight: .semibold, design: .monospaced))
            // Read digit by digit, not as two numbers.
            .accessibilityLabel(code.filter(\.isNumber).map(String.init).joined(separator: " "))
    }
}

/// A device presented the invite: the code to compare, and the member's two answers.
private struct JoinRequestCard: View {
    @EnvironmentObject private var model: AppModel
    let request: JoinRequest

    var body: some View {
        VStack(spacing: 12) {
            Text("A device wants to join").font(.headline)
            Text("Does your new device show this same code?")
                .multilineTextAlignment(.center)
            PairingCodeView(code: request.code)
            // Bordered styles keep the two buttons apart inside one list row.
            Button("Same code — add it") { model.answerJoin(sameCode: true) }
                .buttonStyle(.borderedProminent)
            Button("Different — turn away", role: .destructive) { model.answerJoin(sameCode: false) }
                .buttonStyle(.bordered)
            Text("If the codes are different, someone else has your invite. Turn it away and make a new one.")
                .font(.caption)
                .foregroundStyle(.secondary)
                .multilineTextAlignment(.center)
        }
        .frame(maxWidth: .infinity)
        .padding(.vertical, 8)
    }
}

/// The invite's QR code, how to use it, and the time it has left.
private struct InviteCard: View {
    let invite: PendingInvite
    let onDone: () -> Void

    var body: some View {
        VStack(spacing: 12) {
            Text("Scan this with your other device").font(.headline)
            TimelineView(.periodic(from: .now, by: 1)) { context in
                let left = max(0, Int(invite.expires.timeIntervalSince(context.date)))
                if left > 0 {
                    QRCodeView(content: invite.qrContent).frame(maxWidth: 280)
                    Text("On the new device, open Hearth, choose “I already use Hearth on another device” and scan this code. Keep both devices on the same Wi-Fi. You'll compare a six-digit code next.")
                        .font(.callout)
                        .multilineTextAlignment(.center)
                    Text(String(format: "Works for another %d:%02d", left / 60, left % 60)).font(.caption)
                } else {
                    Text("This code has run out. Tap Done, then “Add a device” for a new one.")
                        .multilineTextAlignment(.center)
                }
            }
            Button("Done", action: onDone)
        }
        .frame(maxWidth: .infinity)
        .padding(.vertical, 8)
    }
}

/// A backup file's bytes, for the system's save dialog.
private struct BackupDocument: FileDocument {
    static var readableContentTypes: [UTType] { [.data] }

    let data: Data

    init(data: Data) { self.data = data }

    init(configuration: ReadConfiguration) throws {
        guard let data = configuration.file.regularFileContents else {
            throw CocoaError(.fileReadCorruptFile)
        }
        self.data = data
    }

    func fileWrapper(configuration: WriteConfiguration) throws -> FileWrapper {
        FileWrapper(regularFileWithContents: data)
    }
}

/// A new backup: its passphrase (typed twice), then where to save the file.
private struct BackupSheet: View {
    @EnvironmentObject private var model: AppModel
    @Environment(\.dismiss) private var dismiss
    @State private var first = ""
    @State private var again = ""
    @State private var file: BackupDocument?
    @State private var exporting = false
    /// The library's minimum, counted as it counts (Unicode scalars).
    private let minChars = Int(minPassphraseChars())

    private var ready: Bool { first.unicodeScalars.count >= minChars && first == again }

    var body: some View {
        NavigationStack {
            Form {
                Section {
                    Text("Choose a passphrase of at least \(minChars) characters. You'll need it to restore the backup, and nobody can recover it for you.")
                    SecureField("Passphrase", text: $first)
                    SecureField("Type it again", text: $again)
                }
                Section {
                    Button {
                        Task { await make() }
                    } label: {
                        if model.busy { ProgressView() } else { Text("Make the backup") }
                    }
                    .disabled(!ready || model.busy)
                }
            }
            .navigationTitle("Make a backup")
            .toolbar {
                ToolbarItem(placement: .cancellationAction) {
                    Button("Cancel") { dismiss() }
                }
            }
        }
        .fileExporter(isPresented: $exporting, document: file, contentType: .data, defaultFilename: "hearth-backup") { result in
            file = nil
            switch result {
            case .success:
                model.notice = "Backup saved. Keep the file somewhere safe, away from this phone."
            case .failure:
                model.error = "The backup file wasn't saved. Make a new backup and save it somewhere else."
            }
            dismiss()
        }
    }

    @MainActor
    private func make() async {
        guard let data = await model.makeBackup(passphrase: first) else {
            // The error shows on the Devices screen.
            dismiss()
            return
        }
        first = ""
        again = ""
        file = BackupDocument(data: data)
        exporting = true
    }
}
