import HearthKit
import SwiftUI

/// Follows the app's phase: opening, welcome, working, or the five tabs.
struct RootView: View {
    @EnvironmentObject private var model: AppModel

    var body: some View {
        switch model.phase {
        case .opening:
            ProgressView("Opening your journal…")
        case let .working(what):
            ProgressView(what).padding()
        case let .joining(code):
            VStack(spacing: 16) {
                Text("Check that your other device shows this code")
                    .font(.title3)
                    .multilineTextAlignment(.center)
                PairingCodeView(code: code)
                Text("If it does, tap “Same code — add it” there. If it shows a different code, tap “Different — turn away”: someone else has the invite.")
                    .font(.callout)
                    .foregroundStyle(.secondary)
                    .multilineTextAlignment(.center)
                ProgressView("Connecting to your other device… Keep both close by and on the same Wi-Fi.")
                    .padding(.top, 16)
            }
            .padding(32)
        case .welcome:
            WelcomeView()
        case let .failed(message):
            VStack(spacing: 16) {
                Text("Your journal didn't open").font(.title2)
                Text(message).multilineTextAlignment(.center)
                Button("Try again") { Task { await model.start() } }
                    .buttonStyle(.borderedProminent)
            }
            .padding(32)
        case .ready:
            TabView {
                NavigationStack { TodayView() }
                    .tabItem { Label("Today", systemImage: "sun.max") }
                NavigationStack { JournalView() }
                    .tabItem { Label("Journal", systemImage: "book") }
                NavigationStack { PlanView() }
                    .tabItem { Label("My Plan", systemImage: "list.bullet.rectangle") }
                NavigationStack { DevicesView() }
                    .tabItem { Label("Devices", systemImage: "iphone") }
                NavigationStack { CenterView() }
                    .tabItem { Label("Center", systemImage: "house") }
            }
        }
    }
}

/// The error or notice of the moment, dismissible.
struct MessageBanner: View {
    @EnvironmentObject private var model: AppModel

    var body: some View {
        if let text = model.error ?? model.notice {
            let isError = model.error != nil
            HStack(alignment: .top, spacing: 12) {
                Image(systemName: isError ? "exclamationmark.triangle" : "info.circle")
                Text(text).frame(maxWidth: .infinity, alignment: .leading)
                Button {
                    model.error = nil
                    model.notice = nil
                } label: {
                    Image(systemName: "xmark")
                }
                .accessibilityLabel("Dismiss")
            }
            .font(.callout)
            .padding(12)
            .background(
                (isError ? Color.orange : Palette.sage).opacity(0.15),
                in: RoundedRectangle(cornerRadius: 12)
            )
        }
    }
}

/// A wrapping row of chips (tags), for iOS 16's Layout.
struct FlowLayout: Layout {
    var spacing: CGFloat = 8

    func sizeThatFits(proposal: ProposedViewSize, subviews: Subviews, cache: inout ()) -> CGSize {
        let rows = arrange(width: proposal.width ?? .infinity, subviews: subviews)
        let height = rows.last.map { $0.y + $0.height } ?? 0
        let width = rows.map(\.width).max() ?? 0
        return CGSize(width: proposal.width ?? width, height: height)
    }

    func placeSubviews(in bounds: CGRect, proposal: ProposedViewSize, subviews: Subviews, cache: inout ()) {
        let rows = arrange(width: bounds.width, subviews: subviews)
        for row in rows {
            var x = bounds.minX
            for index in row.indices {
                let size = subviews[index].sizeThatFits(.unspecified)
                subviews[index].place(at: CGPoint(x: x, y: bounds.minY + row.y), proposal: ProposedViewSize(size))
                x += size.width + spacing
            }
        }
    }

    private struct Row {
        var indices: [Int] = []
        var y: CGFloat = 0
        var width: CGFloat = 0
        var height: CGFloat = 0
    }

    private func arrange(width: CGFloat, subviews: Subviews) -> [Row] {
        var rows: [Row] = [Row()]
        for (index, view) in subviews.enumerated() {
            let size = view.sizeThatFits(.unspecified)
            if !rows[rows.count - 1].indices.isEmpty, rows[rows.count - 1].width + spacing + size.width > width {
                let last = rows[rows.count - 1]
                rows.append(Row(y: last.y + last.height + spacing))
            }
            var row = rows[rows.count - 1]
            row.width += (row.indices.isEmpty ? 0 : spacing) + size.width
            row.height = max(row.height, size.height)
            row.indices.append(index)
            rows[rows.count - 1] = row
        }
        return rows
    }
}
