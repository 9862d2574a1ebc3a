import Foundation
import HearthKit
import Security

/// Keeps the device's 32-byte seed for the Rust core in the iOS Keychain: a generic
/// password item readable only while the phone is unlocked, on this device only
/// (`kSecAttrAccessibleWhenUnlockedThisDeviceOnly`): never synced to iCloud Keychain,
/// never in a backup that could be restored to another phone. Nothing is logged.
final class KeychainSeedStore: KeyStore, @unchecked Sendable {
    private let service = "org.hearth.app.device-seed"
    private let account = "seed.v1"

    private var query: [String: Any] {
        [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: account,
            kSecAttrSynchronizable as String: kCFBooleanFalse as Any,
        ]
    }

    func load() throws -> Data? {
        var q = query
        q[kSecReturnData as String] = kCFBooleanTrue
        q[kSecMatchLimit as String] = kSecMatchLimitOne
        var out: CFTypeRef?
        let status = SecItemCopyMatching(q as CFDictionary, &out)
        switch status {
        case errSecSuccess:
            guard let data = out as? Data else {
                throw HearthError.Storage(message: "the Keychain returned something that is not the device key")
            }
            return data
        case errSecItemNotFound:
            return nil
        case errSecInteractionNotAllowed:
            throw HearthError.Storage(message: "the phone is locked; unlock it to open your journal")
        default:
            throw HearthError.Storage(message: "the Keychain could not read the device key (\(status))")
        }
    }

    func save(seed: Data) throws {
        var add = query
        add[kSecValueData as String] = seed
        add[kSecAttrAccessible as String] = kSecAttrAccessibleWhenUnlockedThisDeviceOnly
        var status = SecItemAdd(add as CFDictionary, nil)
        if status == errSecDuplicateItem {
            let change: [String: Any] = [
                kSecValueData as String: seed,
                kSecAttrAccessible as String: kSecAttrAccessibleWhenUnlockedThisDeviceOnly,
            ]
            status = SecItemUpdate(query as CFDictionary, change as CFDictionary)
        }
        guard status == errSecSuccess else {
            throw HearthError.Storage(message: "the Keychain could not store the device key (\(status))")
        }
    }

    /// Forgets the seed. Keychain items outlive the app: a seed left from an earlier
    /// install must not become the identity of a journal set up now.
    func forget() {
        SecItemDelete(query as CFDictionary)
    }
}
