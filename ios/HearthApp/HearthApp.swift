import HearthKit
import SwiftUI

/// Hearth for iPhone and iPad: a private recovery journal. No account, no analytics,
/// no logs; the device key stays in this device's Keychain.
@main
struct HearthApp: App {
    @StateObject private var model = AppModel()
    @Environment(\.scenePhase) private var scenePhase

    var body: some Scene {
        WindowGroup {
            RootView()
                .environmentObject(model)
                .task { await model.start() }
                .tint(Palette.ember)
        }
        .onChange(of: scenePhase) { phase in
            // Live sync (and the local network) only while Hearth is on screen.
            Task { await model.appActive(phase == .active) }
        }
    }
}

/// Warm, calm colours: terracotta and sage, no clinical blues.
enum Palette {
    static let ember = Color(red: 0.71, green: 0.33, blue: 0.24)
    static let sage = Color(red: 0.37, green: 0.48, blue: 0.36)

    /// Mood 1 (rough) to 5 (great): never alarm-red for a hard day.
    static func mood(_ m: UInt8) -> Color {
        switch m {
        case 1: return Color(red: 0.42, green: 0.35, blue: 0.61)
        case 2: return Color(red: 0.36, green: 0.48, blue: 0.65)
        case 3: return Color(red: 0.65, green: 0.54, blue: 0.27)
        case 4: return Color(red: 0.37, green: 0.54, blue: 0.35)
        default: return Color(red: 0.77, green: 0.38, blue: 0.25)
        }
    }
}
