import HearthKit
import SwiftUI

/// My Plan: the nine WRAP sections, each with free text and a list, and the people
/// who can help in a crisis; what coaches wrote about the sections the member shares,
/// and the way to Sharing (`SharingView`).
struct PlanView: View {
    @EnvironmentObject private var model: AppModel
    @State private var editing: PlanSectionView?
    @State private var addingSupporter = false

    var body: some View {
        List {
            Section {
                MessageBanner()
                Text(subtitle).foregroundStyle(.secondary)
            }
            Section("Sharing with a coach") {
                NavigationLink {
                    SharingView()
                } label: {
                    VStack(alignment: .leading, spacing: 4) {
                        Text("Sharing")
                        Text("Choose parts of your plan for a coach to see, see who can see what, and stop whenever you like.")
                            .font(.caption).foregroundStyle(.secondary)
                    }
                }
            }
            if !model.coachComments.isEmpty {
                Section("From your coach") {
                    ForEach(Array(model.coachComments.enumerated()), id: \.offset) { _, c in
                        VStack(alignment: .leading, spacing: 2) {
                            Text("\(c.coachName) · \(c.dayWords)").font(.caption).foregroundStyle(Palette.ember)
                            Text(c.text)
                        }
                    }
                }
            }
            ForEach(model.plan?.sections ?? [], id: \.section) { section in
                Section {
                    DisclosureGroup {
                        SectionBody(
                            section: section,
                            supporters: section.section == .crisis ? (model.plan?.supporters ?? []) : nil,
                            onEdit: { editing = section },
                            onAddSupporter: { addingSupporter = true }
                        )
                    } label: {
                        VStack(alignment: .leading, spacing: 2) {
                            Text(section.title).font(.headline)
                            Text(section.section.prompt).font(.caption).foregroundStyle(.secondary)
                        }
                    }
                }
            }
        }
        .navigationTitle("Your plan")
        .sheet(item: Binding(get: { editing.map(EditTarget.init) }, set: { if $0 == nil { editing = nil } })) { target in
            EditTextSheet(title: target.section.title, initial: target.section.text) { text in
                Task { await model.setPlanText(target.section.section, text) }
            }
        }
        .sheet(isPresented: $addingSupporter) {
            SupporterSheet { name, role, contact in
                Task { await model.addSupporter(name: name, role: role, contact: contact) }
            }
        }
    }

    private var subtitle: String {
        let sections = model.plan?.sections ?? []
        let started = sections.filter { !$0.text.isEmpty || !$0.items.isEmpty }.count
        return "What keeps you well, and what helps when it's hard. \(started) of \(max(sections.count, 9)) sections started."
    }
}

/// A section being edited, for `.sheet(item:)`.
private struct EditTarget: Identifiable {
    let section: PlanSectionView
    var id: PlanSection { section.section }
}

private struct SectionBody: View {
    @EnvironmentObject private var model: AppModel
    let section: PlanSectionView
    let supporters: [Supporter]?
    let onEdit: () -> Void
    let onAddSupporter: () -> Void
    @State private var newItem = ""

    var body: some View {
        HStack(alignment: .top) {
            Text(section.text.isEmpty ? "Nothing written yet. Tap the pencil to start." : section.text)
                .foregroundStyle(section.text.isEmpty ? Color.secondary : Color.primary)
                .frame(maxWidth: .infinity, alignment: .leading)
            Button(action: onEdit) { Image(systemName: "pencil") }
                .buttonStyle(.borderless)
                .accessibilityLabel("Edit")
        }
        ForEach(Array(section.items.enumerated()), id: \.offset) { index, item in
            Text("•  \(item)")
                .swipeActions {
                    Button("Remove", role: .destructive) {
                        Task { await model.removePlanItem(section.section, at: index) }
                    }
                }
        }
        HStack {
            TextField("Add something", text: $newItem).onSubmit(add)
            Button("Add", action: add)
                .buttonStyle(.borderless)
                .disabled(newItem.trimmingCharacters(in: .whitespaces).isEmpty)
        }
        if let supporters {
            Text("People who can help").font(.subheadline.bold()).padding(.top, 4)
            ForEach(supporters, id: \.self) { s in
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
            Button("Add someone", action: onAddSupporter).buttonStyle(.borderless)
        }
    }

    private func add() {
        let item = newItem
        newItem = ""
        Task { await model.addPlanItem(section.section, item) }
    }
}

private struct EditTextSheet: View {
    let title: String
    let initial: String
    let onSave: (String) -> Void
    @State private var text = ""
    @Environment(\.dismiss) private var dismiss

    var body: some View {
        NavigationStack {
            Form {
                TextField(title, text: $text, axis: .vertical).lineLimit(4...12)
            }
            .navigationTitle(title)
            .navigationBarTitleDisplayMode(.inline)
            .toolbar {
                ToolbarItem(placement: .cancellationAction) { Button("Cancel") { dismiss() } }
                ToolbarItem(placement: .confirmationAction) {
                    Button("Save") {
                        onSave(text)
                        dismiss()
                    }
                }
            }
            .onAppear { text = initial }
        }
    }
}

private struct SupporterSheet: View {
    let onSave: (String, String, String) -> Void
    @State private var name = ""
    @State private var role = ""
    @State private var contact = ""
    @Environment(\.dismiss) private var dismiss

    var body: some View {
        NavigationStack {
            Form {
                TextField("Name or nickname", text: $name)
                TextField("How they help", text: $role)
                TextField("How to reach them", text: $contact)
            }
            .navigationTitle("Add someone")
            .navigationBarTitleDisplayMode(.inline)
            .toolbar {
                ToolbarItem(placement: .cancellationAction) { Button("Cancel") { dismiss() } }
                ToolbarItem(placement: .confirmationAction) {
                    Button("Save") {
                        onSave(name, role, contact)
                        dismiss()
                    }
                    .disabled(name.trimmingCharacters(in: .whitespaces).isEmpty)
                }
            }
        }
    }
}
