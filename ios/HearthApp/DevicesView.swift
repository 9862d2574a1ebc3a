import HearthKit
import SwiftUI

/// Devices: the phones and tablets that share this journal. "Add a device" shows a
/// one-time QR code for the new device to scan from its welcome screen; a lost or
/// old device can be removed so it sees nothing written from then on.
struct DevicesView: View {
    @EnvironmentObject private var model: AppModel
    @State private var removing: DeviceInfo?

    /// This device first, then the member's others, the hub, removed ones last.
    private var rows: [DeviceInfo] {
        func rank(_ d: DeviceInfo) -> Int {
            if d.thisDevice { return 0 }
            switch d.role {
            case "removed": return 3
            case "store": return 2
            default: return 1
            }
        }
        return model.devices.sorted { (rank($0), $0.shortId) < (rank($1), $1.shortId) }
    }

    var body: some View {
        List {
            Section {
                MessageBanner()
                Text("The phones and tablets that share your journal.").foregroundStyle(.secondary)
            }
            Section {
                if let invite = model.invite {
                    InviteCard(invite: invite) { model.invite = nil }
                } else {
                    Button("Add a device") { Task { await model.createInvite() } }
                        .disabled(model.busy)
                }
            }
            Section {
                ForEach(rows, id: \.id) { d in
                    DeviceRowView(device: d)
                        .swipeActions {
                            if !d.thisDevice && d.role != "removed" {
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
            if d.role == "store" {
                Text("The center will stop keeping a copy of what you write from now on. You can enroll again at the desk any time.")
            } else {
                Text("It won't be able to read anything you write from now on. What is already on it stays there, so if it was lost, this is the right thing to do.")
            }
        }
    }
}

private struct DeviceRowView: View {
    let device: DeviceInfo

    var body: some View {
        Label {
            VStack(alignment: .leading, spacing: 2) {
                Text(title)
                Text(subtitle).font(.caption).foregroundStyle(.secondary)
            }
        } icon: {
            Image(systemName: device.role == "store" ? "house" : device.role == "removed" ? "lock" : "iphone")
        }
    }

    private var title: String {
        if device.thisDevice { return "This device" }
        if device.role == "store" { return "The center's hub" }
        return "Device \(device.shortId)"
    }

    private var subtitle: String {
        switch device.role {
        case "owner", "writer": return "Can read and write your journal · \(device.shortId)"
        case "reader": return "Can read your journal · \(device.shortId)"
        case "store": return "Keeps an encrypted copy it cannot read · \(device.shortId)"
        case "removed": return "Removed: sees nothing new · \(device.shortId)"
        default: return "\(device.role) · \(device.shortId)"
        }
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
                    Text("On the new device, open Hearth, choose “I already use Hearth on another device” and scan this code. Keep both devices on the same Wi-Fi.")
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
