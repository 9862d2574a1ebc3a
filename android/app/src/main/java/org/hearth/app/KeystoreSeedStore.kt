package org.hearth.app

import android.content.Context
import android.os.Build
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import android.security.keystore.StrongBoxUnavailableException
import java.io.File
import java.io.IOException
import java.security.GeneralSecurityException
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec
import org.hearth.ffi.HearthException
import org.hearth.ffi.KeyStore

/**
 * Keeps the device's 32-byte seed for the Rust core (`KeyStore`): encrypted with an
 * AES-256-GCM key that lives in the Android Keystore (StrongBox when the phone has
 * one) and never leaves it; the ciphertext sits in the app's no-backup folder.
 *
 * The file is `version (1) | iv length (1) | iv | ciphertext+tag`. Nothing is logged.
 */
class KeystoreSeedStore(context: Context) : KeyStore {
    private val file = File(context.noBackupFilesDir, FILE_NAME)

    override fun load(): ByteArray? {
        if (!file.exists()) return null
        return try {
            val blob = file.readBytes()
            if (blob.size < 2 || blob[0] != VERSION) throw HearthException.Storage("the device key file is damaged")
            val ivLength = blob[1].toInt()
            if (blob.size < 2 + ivLength + TAG_BITS / 8) throw HearthException.Storage("the device key file is damaged")
            val iv = blob.copyOfRange(2, 2 + ivLength)
            val cipher = Cipher.getInstance(TRANSFORMATION)
            val key = existingKey() ?: throw HearthException.Storage("the device key's wrapping key is gone")
            cipher.init(Cipher.DECRYPT_MODE, key, GCMParameterSpec(TAG_BITS, iv))
            cipher.doFinal(blob, 2 + ivLength, blob.size - 2 - ivLength)
        } catch (e: GeneralSecurityException) {
            throw HearthException.Storage("the Android Keystore could not unlock the device key (${e.javaClass.simpleName})")
        } catch (e: IOException) {
            throw HearthException.Storage("could not read the device key file")
        }
    }

    override fun save(seed: ByteArray) {
        try {
            val cipher = Cipher.getInstance(TRANSFORMATION)
            // The Keystore picks a fresh random IV for every encryption.
            cipher.init(Cipher.ENCRYPT_MODE, existingKey() ?: newKey())
            val iv = cipher.iv
            val sealed = cipher.doFinal(seed)
            val blob = byteArrayOf(VERSION, iv.size.toByte()) + iv + sealed
            val tmp = File(file.parentFile, "$FILE_NAME.tmp")
            tmp.outputStream().use {
                it.write(blob)
                it.fd.sync()
            }
            if (!tmp.renameTo(file)) throw IOException("rename failed")
        } catch (e: GeneralSecurityException) {
            throw HearthException.Storage("the Android Keystore could not protect the device key (${e.javaClass.simpleName})")
        } catch (e: IOException) {
            throw HearthException.Storage("could not write the device key file")
        }
    }

    /**
     * Forgets the seed (before a new journal is set up on this device). The
     * Keystore key stays; it only ever wraps this one file.
     */
    fun forget() {
        file.delete()
    }

    private fun keystore(): java.security.KeyStore =
        java.security.KeyStore.getInstance(ANDROID_KEYSTORE).apply { load(null) }

    private fun existingKey(): SecretKey? = keystore().getKey(ALIAS, null) as? SecretKey

    private fun newKey(): SecretKey {
        fun spec(strongBox: Boolean) = KeyGenParameterSpec.Builder(
            ALIAS,
            KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT,
        )
            .setKeySize(256)
            .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
            .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
            .setRandomizedEncryptionRequired(true)
            .apply { if (strongBox && Build.VERSION.SDK_INT >= Build.VERSION_CODES.P) setIsStrongBoxBacked(true) }
            .build()

        val generator = KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, ANDROID_KEYSTORE)
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.P) {
            try {
                generator.init(spec(strongBox = true))
                return generator.generateKey()
            } catch (_: StrongBoxUnavailableException) {
                // No secure element on this phone: the TEE-backed Keystore will do.
            }
        }
        generator.init(spec(strongBox = false))
        return generator.generateKey()
    }

    private companion object {
        const val ANDROID_KEYSTORE = "AndroidKeyStore"
        const val ALIAS = "hearth.device-seed.v1"
        const val FILE_NAME = "device-seed.bin"
        const val TRANSFORMATION = "AES/GCM/NoPadding"
        const val TAG_BITS = 128
        const val VERSION: Byte = 1
    }
}
