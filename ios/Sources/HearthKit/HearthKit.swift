// HearthKit: the generated bindings plus the few UI-free helpers every screen shares.
// Decisions about data (validation, merging, access) are made in Rust; what is here
// is presentation: words for moods and statuses, and the mood chart's series.

@_exported import HearthFFI
import Foundation

/// Words for the 1–5 mood scale.
public enum Mood {
    /// The scale, low to high.
    public static let scale: [UInt8] = [1, 2, 3, 4, 5]

    /// A plain word for `mood`.
    public static func label(_ mood: UInt8) -> String {
        switch mood {
        case 1: return "Really rough"
        case 2: return "Low"
        case 3: return "Okay"
        case 4: return "Good"
        case 5: return "Great"
        default: return "—"
        }
    }
}

/// One day of the mood chart: the day's average mood, or nil without a check-in.
public struct TrendPoint: Identifiable, Equatable {
    public let day: Date
    public let averageMood: Double?
    public let count: Int
    public var id: Date { day }
}

/// The 14-day mood trend, oldest day first, ending today.
public struct MoodTrend: Equatable {
    public let points: [TrendPoint]

    public init(points: [TrendPoint]) { self.points = points }

    /// Builds the trend from check-ins (any order), by calendar day in `calendar`.
    public init(checkIns: [CheckIn], today: Date = Date(), days: Int = 14, calendar: Calendar = .current) {
        let start = calendar.startOfDay(for: today)
        var moods: [Date: [Double]] = [:]
        for c in checkIns {
            let day = calendar.startOfDay(for: Date(timeIntervalSince1970: Double(c.atMs) / 1000))
            moods[day, default: []].append(Double(c.mood))
        }
        points = (0..<days).reversed().compactMap { back in
            guard let day = calendar.date(byAdding: .day, value: -back, to: start) else { return nil }
            let m = moods[day] ?? []
            return TrendPoint(day: day, averageMood: m.isEmpty ? nil : m.reduce(0, +) / Double(m.count), count: m.count)
        }
    }

    /// Days with at least one check-in.
    public var daysWithCheckIns: Int { points.filter { $0.count > 0 }.count }

    /// A kind sentence under the chart.
    public var summary: String {
        let half = points.count / 2
        let before = points.prefix(half).compactMap(\.averageMood)
        let after = points.suffix(from: half).compactMap(\.averageMood)
        if daysWithCheckIns == 0 { return "No check-ins in the last \(points.count) days yet. They'll show here." }
        guard !before.isEmpty, !after.isEmpty else {
            return "You checked in on \(daysWithCheckIns) of the last \(points.count) days."
        }
        let d = after.reduce(0, +) / Double(after.count) - before.reduce(0, +) / Double(before.count)
        if d >= 0.5 { return "Your mood has been lifting this week." }
        if d <= -0.5 { return "This week has been harder. Your plan's toolbox is there if it helps." }
        return "Your mood has been fairly steady."
    }
}

/// Sentences about sync.
public enum SyncWords {
    /// A status in words; `peerName` names a peer from its short id.
    public static func describe(_ status: SyncStatus, peerName: (String) -> String) -> String {
        switch status {
        case .offline:
            return "Offline. Everything is saved on this device."
        case .online:
            return "Online, looking for the center and your devices…"
        case let .inSync(peer):
            return "Up to date with \(peerName(peer))."
        case let .received(peer, newItems):
            return "Got \(newItems) new \(newItems == 1 ? "change" : "changes") from \(peerName(peer))."
        case let .withheld(_, warnings):
            // Worded in Rust, one warning a line, as a "sync now" shows them.
            return warnings.map { "Warning: \($0)." }.joined(separator: "\n")
        case let .joinRequested(device, _):
            return "A new device (\(device)) asks to join your journal."
        case let .deviceJoined(device):
            return "A new device joined your journal (\(device))."
        }
    }

    /// What a "sync now" reached, in words.
    public static func describe(_ report: SyncReport) -> String {
        let reached = Int(report.reached)
        let missed = report.unreachable.count
        let outcome: String
        switch (reached, missed) {
        case (0, 0): outcome = "Nothing to sync with yet. Enroll at a center, or add another device."
        case (0, _): outcome = "Couldn't reach anyone just now. Your entries are safe here and will sync later."
        case (_, 0): outcome = "Synced with \(reached) \(reached == 1 ? "place" : "places")."
        default: outcome = "Synced with \(reached); \(missed) couldn't be reached right now."
        }
        // What the device found missing is worded in Rust; shown under the outcome.
        let warnings = report.withheld.map { "Warning: \($0)." }
        return ([outcome] + warnings).joined(separator: "\n")
    }
}

/// The library's error in plain words (the same wording as the Android app).
public func plainWords(_ error: Error) -> String {
    guard let e = error as? HearthError else {
        return "Something unexpected went wrong. Please try again."
    }
    switch e {
    case .Network:
        return "Couldn't reach the center or your other device. If you're at the center, check you're on its Wi-Fi and try again. Everything is still saved on this phone."
    case .Crypto:
        return "That didn't check out. If you scanned a code, ask for a fresh one; if you typed a passphrase, check it and try again."
    case .Storage:
        return "Something went wrong saving on this phone. Please try again."
    case .NotFound:
        return "We couldn't find that. It may have been removed on another device."
    case .Denied:
        return "That isn't allowed from this device. If it was removed from your journal, it can no longer make changes."
    case .QuotaExceeded:
        return "The center's hub has no more room for your journal, so nothing new reached it. Everything is still saved on this phone. Please ask the center's staff."
    case let .Invalid(message):
        return sentence(message)
    }
}

/// Like `plainWords`, except that a refusal (`Denied`) or something missing
/// (`NotFound`) shows the library's own words: at the center they are meant for the
/// member ("the center has no proposal with that number"). The same as the Android
/// app's `UiError.atCenter`.
public func centerWords(_ error: Error) -> String {
    guard let e = error as? HearthError else { return plainWords(error) }
    switch e {
    case let .Denied(message), let .NotFound(message):
        return sentence(message)
    default:
        return plainWords(error)
    }
}

/// Like `plainWords`, except that a refusal (`Denied`) shows the library's own words:
/// when sharing with a coach they say what is not allowed ("this sharing has already
/// ended (revoked)"). The same as the Android app's `UiError.sharing`.
public func sharingWords(_ error: Error) -> String {
    if let e = error as? HearthError, case let .Denied(message) = e {
        return sentence(message)
    }
    return plainWords(error)
}

/// `text` as a sentence: a capital first, a full stop last.
func sentence(_ text: String) -> String {
    let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
    guard let first = t.first else { return "That doesn't look right. Please check it and try again." }
    let s = first.uppercased() + t.dropFirst()
    return s.hasSuffix(".") || s.hasSuffix("!") || s.hasSuffix("?") ? s : s + "."
}

public extension PlanSection {
    /// A line under each section's title saying what goes in it.
    var prompt: String {
        switch self {
        case .toolbox: return "Things that help you feel well and stay well."
        case .daily: return "What you're like when you're well, and what you do each day to stay that way."
        case .triggers: return "Things that can knock you off balance, and what you can do about them."
        case .warningSigns: return "Small signs that things are starting to slip, and what helps then."
        case .breakdown: return "Signs that things are getting much harder, and what to do right away."
        case .crisis: return "What you want to happen, and who you want with you, if you can't manage on your own."
        case .postCrisis: return "How you'd like to get back on your feet afterwards."
        case .goals: return "What you're working towards, big or small."
        case .strengths: return "What you're good at, and what has got you through before."
        }
    }
}
