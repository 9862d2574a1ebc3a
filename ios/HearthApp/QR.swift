import AVFoundation
import CoreImage.CIFilterBuiltins
import SwiftUI
import UIKit

/// A QR code drawn with CoreImage, crisp at any size, dark on white whatever the theme.
struct QRCodeView: View {
    let content: String
    /// What VoiceOver says the code is for.
    var label = "A one-time code for your other device to scan"

    var body: some View {
        if let image = Self.render(content) {
            Image(uiImage: image)
                .interpolation(.none)
                .resizable()
                .scaledToFit()
                .padding(12)
                .background(Color.white, in: RoundedRectangle(cornerRadius: 12))
                .accessibilityLabel(label)
        } else {
            Text("The code couldn't be drawn.").foregroundStyle(.secondary)
        }
    }

    private static let context = CIContext()

    static func render(_ content: String) -> UIImage? {
        let filter = CIFilter.qrCodeGenerator()
        filter.message = Data(content.utf8)
        filter.correctionLevel = "M"
        guard let output = filter.outputImage?.transformed(by: CGAffineTransform(scaleX: 8, y: 8)),
              let cg = context.createCGImage(output, from: output.extent) else { return nil }
        return UIImage(cgImage: cg)
    }
}

/// A full-screen scanner for a Hearth code (it starts with "hearth"). AVFoundation's
/// metadata reader runs on the device: no frame is saved or sent anywhere.
struct QRScannerSheet: View {
    let title: String
    let onResult: (String) -> Void
    @Environment(\.dismiss) private var dismiss
    /// nil while asking, then whether the camera may be used.
    @State private var allowed: Bool?

    var body: some View {
        NavigationStack {
            VStack(spacing: 16) {
                if allowed == nil {
                    ProgressView()
                } else if allowed == false {
                    Text("Hearth needs the camera to read the code. You can allow it in Settings › Hearth. Pictures are never saved or sent anywhere.")
                        .multilineTextAlignment(.center)
                        .padding()
                } else {
                    QRScannerView { text in
                        onResult(text)
                        dismiss()
                    }
                    .aspectRatio(3 / 4, contentMode: .fit)
                    .clipShape(RoundedRectangle(cornerRadius: 16))
                }
                Spacer()
            }
            .padding()
            .navigationTitle(title)
            .navigationBarTitleDisplayMode(.inline)
            .toolbar {
                ToolbarItem(placement: .cancellationAction) { Button("Cancel") { dismiss() } }
            }
            .task {
                switch AVCaptureDevice.authorizationStatus(for: .video) {
                case .authorized: allowed = true
                case .notDetermined: allowed = await AVCaptureDevice.requestAccess(for: .video)
                default: allowed = false
                }
            }
        }
    }
}

/// The camera preview and QR reader.
struct QRScannerView: UIViewControllerRepresentable {
    let onResult: (String) -> Void

    func makeUIViewController(context: Context) -> ScannerController {
        let controller = ScannerController()
        controller.onResult = onResult
        return controller
    }

    func updateUIViewController(_ controller: ScannerController, context: Context) {}

    final class ScannerController: UIViewController, AVCaptureMetadataOutputObjectsDelegate {
        var onResult: ((String) -> Void)?
        private let session = AVCaptureSession()
        private var preview: AVCaptureVideoPreviewLayer?
        private var delivered = false
        private let queue = DispatchQueue(label: "org.hearth.scanner")

        override func viewDidLoad() {
            super.viewDidLoad()
            view.backgroundColor = .black
            guard let camera = AVCaptureDevice.default(for: .video),
                  let input = try? AVCaptureDeviceInput(device: camera),
                  session.canAddInput(input) else { return }
            session.addInput(input)
            let output = AVCaptureMetadataOutput()
            guard session.canAddOutput(output) else { return }
            session.addOutput(output)
            output.setMetadataObjectsDelegate(self, queue: .main)
            output.metadataObjectTypes = [.qr]
            let layer = AVCaptureVideoPreviewLayer(session: session)
            layer.videoGravity = .resizeAspectFill
            view.layer.addSublayer(layer)
            preview = layer
        }

        override func viewDidLayoutSubviews() {
            super.viewDidLayoutSubviews()
            preview?.frame = view.bounds
        }

        override func viewWillAppear(_ animated: Bool) {
            super.viewWillAppear(animated)
            let session = self.session
            queue.async { if !session.isRunning { session.startRunning() } }
        }

        override func viewWillDisappear(_ animated: Bool) {
            super.viewWillDisappear(animated)
            let session = self.session
            queue.async { if session.isRunning { session.stopRunning() } }
        }

        func metadataOutput(
            _ output: AVCaptureMetadataOutput,
            didOutput metadataObjects: [AVMetadataObject],
            from connection: AVCaptureConnection
        ) {
            guard !delivered else { return }
            for object in metadataObjects {
                guard let code = object as? AVMetadataMachineReadableCodeObject,
                      let text = code.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines),
                      text.lowercased().hasPrefix("hearth") else { continue }
                delivered = true
                UINotificationFeedbackGenerator().notificationOccurred(.success)
                onResult?(text)
                return
            }
        }
    }
}
