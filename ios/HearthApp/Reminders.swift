import Foundation
import HearthKit
import UserNotifications

/// Sign-up reminders as local notifications, on this device only: no e-mail, no phone
/// number, no push server. The words are the library's, which give nothing away on a
/// lock screen ("Hearth: something you signed up for starts at 15:00"). The same as
/// the Android app's `ReminderAlarms`.
enum Reminders {
    /// Every reminder Hearth schedules has an identifier starting with this.
    private static let prefix = "org.hearth.signup."

    /// Asks once to show notifications (the member just chose a reminder).
    static func askPermission() async {
        _ = try? await UNUserNotificationCenter.current().requestAuthorization(options: [.alert, .sound])
    }

    /// Makes the scheduled reminders exactly those `signUps` ask for: new ones added,
    /// changed ones moved, withdrawn or past ones taken away.
    static func sync(_ signUps: [SignUpRecord]) async {
        let center = UNUserNotificationCenter.current()
        var wanted: [String: (at: Date, text: String)] = [:]
        for s in signUps {
            guard let at = s.remindAtMs, let text = s.reminderText else { continue }
            let date = Date(timeIntervalSince1970: Double(at) / 1000)
            if date > Date() { wanted[prefix + s.id] = (date, text) }
        }
        let pending = await center.pendingNotificationRequests().filter { $0.identifier.hasPrefix(prefix) }
        var unchanged = Set<String>()
        for request in pending {
            guard let want = wanted[request.identifier],
                  request.content.body == want.text,
                  let trigger = request.trigger as? UNTimeIntervalNotificationTrigger,
                  let next = trigger.nextTriggerDate(),
                  abs(next.timeIntervalSince(want.at)) < 60
            else { continue }
            unchanged.insert(request.identifier)
        }
        let stale = pending.map(\.identifier).filter { !unchanged.contains($0) }
        center.removePendingNotificationRequests(withIdentifiers: stale)
        for (id, want) in wanted where !unchanged.contains(id) {
            let seconds = want.at.timeIntervalSinceNow
            guard seconds > 1 else { continue }
            let content = UNMutableNotificationContent()
            content.body = want.text
            content.sound = .default
            let trigger = UNTimeIntervalNotificationTrigger(timeInterval: seconds, repeats: false)
            try? await center.add(UNNotificationRequest(identifier: id, content: content, trigger: trigger))
        }
    }
}
