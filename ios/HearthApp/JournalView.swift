import Charts
import HearthKit
import SwiftUI

/// Journal: the 14-day mood chart, then every check-in by day.
struct JournalView: View {
    @EnvironmentObject private var model: AppModel
    @State private var deleting: CheckIn?

    private var trend: MoodTrend { MoodTrend(checkIns: model.checkIns) }

    /// One day's check-ins.
    private struct DayGroup: Identifiable {
        let day: Date
        var entries: [CheckIn]
        var id: Date { day }
    }

    /// Check-ins grouped by day, newest day and newest entry first.
    private var days: [DayGroup] {
        let cal = Calendar.current
        let sorted = model.checkIns.sorted { $0.atMs > $1.atMs }
        var groups: [DayGroup] = []
        for c in sorted {
            let day = cal.startOfDay(for: date(c))
            if let last = groups.last, last.day == day {
                groups[groups.count - 1].entries.append(c)
            } else {
                groups.append(DayGroup(day: day, entries: [c]))
            }
        }
        return groups
    }

    var body: some View {
        List {
            Section {
                MessageBanner()
                VStack(alignment: .leading, spacing: 8) {
                    Text("The last two weeks").font(.headline)
                    MoodChart(trend: trend).frame(height: 180)
                    Text(trend.summary).font(.callout)
                }
                .padding(.vertical, 4)
            }
            if model.checkIns.isEmpty {
                Text("Nothing here yet. Your check-ins will show up here.").foregroundStyle(.secondary)
            }
            ForEach(days) { group in
                Section(header: Text(dayTitle(group.day))) {
                    ForEach(group.entries, id: \.id) { c in
                        EntryRow(checkIn: c)
                            .swipeActions {
                                Button("Delete", role: .destructive) { deleting = c }
                            }
                    }
                }
            }
        }
        .navigationTitle("Journal")
        .confirmationDialog(
            "Delete this check-in?",
            isPresented: Binding(get: { deleting != nil }, set: { if !$0 { deleting = nil } }),
            titleVisibility: .visible,
            presenting: deleting
        ) { c in
            Button("Delete", role: .destructive) { Task { await model.deleteCheckIn(id: c.id) } }
        } message: { _ in
            Text("It will be deleted on all your devices. This can't be undone.")
        }
    }

    private func date(_ c: CheckIn) -> Date { Date(timeIntervalSince1970: Double(c.atMs) / 1000) }

    private func dayTitle(_ day: Date) -> String {
        let cal = Calendar.current
        if cal.isDateInToday(day) { return "Today" }
        if cal.isDateInYesterday(day) { return "Yesterday" }
        return day.formatted(date: .complete, time: .omitted)
    }
}

/// Mood 1 (bottom) to 5 (top), a point per day with check-ins, a line through them.
struct MoodChart: View {
    let trend: MoodTrend

    var body: some View {
        let points = trend.points.filter { $0.averageMood != nil }
        Chart {
            ForEach(points) { p in
                let mood = p.averageMood ?? 0
                LineMark(x: .value("Day", p.day, unit: .day), y: .value("Mood", mood))
                    .interpolationMethod(.monotone)
                    .foregroundStyle(Palette.ember)
                PointMark(x: .value("Day", p.day, unit: .day), y: .value("Mood", mood))
                    .foregroundStyle(Palette.mood(UInt8(mood.rounded())))
            }
        }
        .chartYScale(domain: 1...5)
        .chartXScale(domain: (trend.points.first?.day ?? Date())...(trend.points.last?.day ?? Date()))
        .chartYAxis {
            AxisMarks(values: [1, 3, 5]) { value in
                AxisGridLine()
                AxisValueLabel {
                    if let m = value.as(Double.self) { Text(Mood.label(UInt8(m.rounded()))) }
                }
            }
        }
        .chartXAxis {
            AxisMarks(values: .stride(by: .day, count: 3)) { _ in
                AxisGridLine()
                AxisValueLabel(format: .dateTime.day().month(.abbreviated))
            }
        }
        .accessibilityLabel(trend.summary)
    }
}

/// One check-in in the list.
struct EntryRow: View {
    let checkIn: CheckIn

    var body: some View {
        VStack(alignment: .leading, spacing: 4) {
            HStack {
                Text(Date(timeIntervalSince1970: Double(checkIn.atMs) / 1000), style: .time).font(.subheadline)
                Text(Mood.label(checkIn.mood)).font(.headline).foregroundStyle(Palette.mood(checkIn.mood))
            }
            let details = [
                checkIn.craving.map { "craving \($0)/10" },
                checkIn.energy.map { "energy \($0)/5" },
                checkIn.sleepHours.map { String(format: "slept %.1f h", $0) },
            ].compactMap { $0 }
            if !details.isEmpty { Text(details.joined(separator: " · ")).font(.caption) }
            if !checkIn.tags.isEmpty { Text(checkIn.tags.joined(separator: ", ")).font(.caption).foregroundStyle(Palette.sage) }
            if !checkIn.note.isEmpty { Text(checkIn.note).font(.body) }
        }
        .padding(.vertical, 2)
    }
}
