import HearthKit
import SwiftUI

/// Today: a quick check-in. Mood is all that's needed; the rest is optional.
struct TodayView: View {
    @EnvironmentObject private var model: AppModel
    @State private var mood: UInt8?
    @State private var withCraving = false
    @State private var craving: Double = 0
    @State private var withEnergy = false
    @State private var energy: Double = 3
    @State private var withSleep = false
    @State private var sleep: Double = 7
    @State private var tags: [String] = []
    @State private var newTag = ""
    @State private var note = ""
    @State private var saving = false

    private static let defaultTags = [
        "meeting", "group", "talked to someone", "exercise", "outside",
        "work", "family", "lonely", "stressed", "grateful",
    ]

    /// The member's most used tags first, then the defaults, then any chosen now.
    private var suggestedTags: [String] {
        var counts: [String: Int] = [:]
        for c in model.checkIns { for t in c.tags { counts[t, default: 0] += 1 } }
        let used = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map(\.key)
        var seen = Set<String>()
        let base = (used + Self.defaultTags).filter { seen.insert($0).inserted }.prefix(12)
        return Array(base) + tags.filter { !base.contains($0) }
    }

    private var title: String {
        if let name = model.name, !name.isEmpty { return "How are you doing, \(name)?" }
        return "How are you doing?"
    }

    var body: some View {
        Form {
            Section {
                MessageBanner()
                Text("A quick check-in. Only the mood is needed; the rest is up to you.")
                    .foregroundStyle(.secondary)
            }

            Section("Mood") {
                HStack {
                    ForEach(Mood.scale, id: \.self) { m in
                        Button {
                            mood = (mood == m) ? nil : m
                        } label: {
                            Text(Mood.label(m))
                                .font(.footnote)
                                .frame(maxWidth: .infinity, minHeight: 44)
                                .background(
                                    (mood == m ? Palette.mood(m).opacity(0.3) : Color.secondary.opacity(0.08)),
                                    in: RoundedRectangle(cornerRadius: 10)
                                )
                        }
                        .buttonStyle(.plain)
                        .accessibilityAddTraits(mood == m ? .isSelected : [])
                    }
                }
            }

            Section {
                Toggle("Craving", isOn: $withCraving)
                if withCraving {
                    Slider(value: $craving, in: 0...10, step: 1) { Text("Craving") }
                    Text("\(Int(craving)) of 10").foregroundStyle(.secondary)
                }
                Toggle("Energy", isOn: $withEnergy)
                if withEnergy {
                    Slider(value: $energy, in: 1...5, step: 1) { Text("Energy") }
                    Text("\(Int(energy)) of 5").foregroundStyle(.secondary)
                }
                Toggle("Sleep last night", isOn: $withSleep)
                if withSleep {
                    Slider(value: $sleep, in: 0...12, step: 0.5) { Text("Sleep") }
                    Text(String(format: "%.1f hours", sleep)).foregroundStyle(.secondary)
                }
            }

            Section("What's been going on?") {
                FlowLayout().callAsFunction {
                    ForEach(suggestedTags, id: \.self) { tag in
                        let on = tags.contains(tag)
                        Button {
                            if on { tags.removeAll { $0 == tag } } else { tags.append(tag) }
                        } label: {
                            Label(tag, systemImage: on ? "checkmark" : "plus")
                                .font(.footnote)
                                .padding(.horizontal, 10)
                                .padding(.vertical, 6)
                                .background(on ? Palette.sage.opacity(0.25) : Color.secondary.opacity(0.08), in: Capsule())
                        }
                        .buttonStyle(.plain)
                    }
                }
                HStack {
                    TextField("Add your own", text: $newTag)
                        .onSubmit(addTag)
                    Button("Add", action: addTag).disabled(newTag.trimmingCharacters(in: .whitespaces).isEmpty)
                }
            }

            Section {
                TextField("A note, just for you", text: $note, axis: .vertical)
                    .lineLimit(3...8)
            } footer: {
                Text("Only your own devices can read this.")
            }

            Section {
                Button {
                    Task { await save() }
                } label: {
                    if saving { ProgressView().frame(maxWidth: .infinity) } else { Text("Save check-in").frame(maxWidth: .infinity) }
                }
                .buttonStyle(.borderedProminent)
                .disabled(mood == nil || saving)
            }

            let today = model.checkIns.filter { Calendar.current.isDateInToday(Date(timeIntervalSince1970: Double($0.atMs) / 1000)) }
            if !today.isEmpty {
                Section("Earlier today") {
                    ForEach(today, id: \.id) { c in
                        HStack {
                            Text(Date(timeIntervalSince1970: Double(c.atMs) / 1000), style: .time)
                            Text(Mood.label(c.mood)).foregroundStyle(Palette.mood(c.mood))
                            if !c.note.isEmpty { Text(c.note).lineLimit(1).foregroundStyle(.secondary) }
                        }
                    }
                }
            }
        }
        .navigationTitle(title)
    }

    private func addTag() {
        let t = newTag.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
            .split(whereSeparator: \.isWhitespace).joined(separator: " ")
        if !t.isEmpty, !tags.contains(t) { tags.append(t) }
        newTag = ""
    }

    private func save() async {
        guard let mood else { return }
        saving = true
        let entry = NewCheckIn(
            mood: mood,
            craving: withCraving ? UInt8(craving) : nil,
            energy: withEnergy ? UInt8(energy) : nil,
            sleepHours: withSleep ? Float(sleep) : nil,
            tags: tags,
            note: note.trimmingCharacters(in: .whitespacesAndNewlines)
        )
        if await model.addCheckIn(entry) {
            model.notice = "Saved. Thanks for checking in."
            self.mood = nil
            withCraving = false
            withEnergy = false
            withSleep = false
            tags = []
            note = ""
        }
        saving = false
    }
}
