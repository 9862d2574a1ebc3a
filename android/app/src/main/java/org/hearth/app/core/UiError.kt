package org.hearth.app.core

import kotlin.coroutines.cancellation.CancellationException
import org.hearth.ffi.HearthException

/**
 * A problem to show the member, in plain words. [kind] says what they can do about
 * it; [detail] is the library's own message (shown small, or not at all). In the
 * generated Kotlin that message is the exception's `reason` (its `message` reads
 * "reason=…", see mobile-bindings/uniffi.toml).
 *
 * Nothing here is logged anywhere: Hearth keeps no logs and sends no analytics.
 */
data class UiError(val kind: Kind, val message: String, val detail: String? = null) {

    /** What went wrong, as far as the member is concerned. */
    enum class Kind {
        /** Nobody answered: try again later, or on the center's Wi-Fi. */
        NETWORK,

        /** A code, passphrase or file did not check out. */
        CRYPTO,

        /** This phone's storage or key store failed. */
        STORAGE,

        /** It is not there (any more). */
        NOT_FOUND,

        /** Not allowed: a removed device, a refused code. */
        DENIED,

        /** Something entered was not right; [message] says what. */
        INVALID,

        /** The center's hub has no more room for this journal: ask the staff. */
        HUB_FULL,

        /** Anything else (a bug): the message stays general. */
        UNEXPECTED,
    }

    companion object {
        /** The plain-words version of [error]. */
        fun from(error: Throwable): UiError = when (error) {
            is HearthException.Network -> UiError(
                Kind.NETWORK,
                "Couldn't reach the center or your other device. If you're at the center, " +
                    "check you're on its Wi-Fi and try again. Everything is still saved on this phone.",
                error.reason,
            )
            is HearthException.Crypto -> UiError(
                Kind.CRYPTO,
                "That didn't check out. If you scanned a code, ask for a fresh one; " +
                    "if you typed a passphrase, check it and try again.",
                error.reason,
            )
            is HearthException.Storage -> UiError(
                Kind.STORAGE,
                "Something went wrong saving on this phone. Please try again.",
                error.reason,
            )
            is HearthException.NotFound -> UiError(
                Kind.NOT_FOUND,
                "We couldn't find that. It may have been removed on another device.",
                error.reason,
            )
            is HearthException.Denied -> UiError(
                Kind.DENIED,
                "That isn't allowed from this device. If it was removed from your journal, " +
                    "it can no longer make changes.",
                error.reason,
            )
            is HearthException.Invalid -> UiError(
                Kind.INVALID,
                sentence(error.reason),
                error.reason,
            )
            is HearthException.QuotaExceeded -> UiError(
                Kind.HUB_FULL,
                "The center's hub has no more room for your journal, so nothing new reached it. " +
                    "Everything is still saved on this phone. Please ask the center's staff.",
                error.reason,
            )
            else -> UiError(
                Kind.UNEXPECTED,
                "Something unexpected went wrong. Please try again.",
                error.message,
            )
        }

        /**
         * Like [from], except that a refusal ([HearthException.Denied]) or something
         * missing ([HearthException.NotFound]) shows the library's own words: at the
         * center they are meant for the member ("the center has no proposal with that
         * number", "you are already signed up for session 4").
         */
        fun atCenter(error: Throwable): UiError = when (error) {
            is HearthException.Denied -> UiError(Kind.DENIED, sentence(error.reason), error.reason)
            is HearthException.NotFound -> UiError(Kind.NOT_FOUND, sentence(error.reason), error.reason)
            else -> from(error)
        }

        /**
         * Like [from], except that a refusal ([HearthException.Denied]) shows the
         * library's own words: when sharing with a coach they say what is not allowed
         * ("this sharing has already ended (revoked)", "this card is one of your own
         * devices'").
         */
        fun sharing(error: Throwable): UiError = when (error) {
            is HearthException.Denied -> UiError(Kind.DENIED, sentence(error.reason), error.reason)
            else -> from(error)
        }

        /** A message typed by the app itself (a blank field, a missing choice). */
        fun invalid(message: String): UiError = UiError(Kind.INVALID, message)

        private fun sentence(text: String?): String {
            val t = text?.trim().orEmpty()
            if (t.isEmpty()) return "That doesn't look right. Please check it and try again."
            val first = t.first().uppercaseChar() + t.substring(1)
            return if (first.endsWith('.') || first.endsWith('!') || first.endsWith('?')) first else "$first."
        }
    }
}

/** The result of an action: its value, or what to tell the member. */
sealed interface Outcome<out T> {
    /** It worked. */
    data class Ok<out T>(val value: T) : Outcome<T>

    /** It did not; [error] says why, in plain words. */
    data class Failed(val error: UiError) : Outcome<Nothing>

    /** Whether it worked. */
    val isOk: Boolean get() = this is Ok

    /** The value, or `null` when it failed. */
    fun getOrNull(): T? = (this as? Ok)?.value

    /** The error, or `null` when it worked. */
    fun errorOrNull(): UiError? = (this as? Failed)?.error
}

/** Like [attempt], with the center's words for refusals ([UiError.atCenter]). */
suspend fun <T> attemptAtCenter(block: suspend () -> T): Outcome<T> = try {
    Outcome.Ok(block())
} catch (e: CancellationException) {
    throw e
} catch (e: Exception) {
    Outcome.Failed(UiError.atCenter(e))
}

/** Like [attempt], with the library's words for refusals when sharing ([UiError.sharing]). */
suspend fun <T> attemptSharing(block: suspend () -> T): Outcome<T> = try {
    Outcome.Ok(block())
} catch (e: CancellationException) {
    throw e
} catch (e: Exception) {
    Outcome.Failed(UiError.sharing(e))
}

/**
 * Runs [block], turning a library error (or any other exception) into
 * [Outcome.Failed]. Cancellation is passed on, never swallowed.
 */
suspend fun <T> attempt(block: suspend () -> T): Outcome<T> = try {
    Outcome.Ok(block())
} catch (e: CancellationException) {
    throw e
} catch (e: Exception) {
    Outcome.Failed(UiError.from(e))
}
