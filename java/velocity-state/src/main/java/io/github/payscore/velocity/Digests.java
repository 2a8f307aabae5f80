package io.github.payscore.velocity;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * Fixed-size stand-ins for strings in the state: 128 bits of SHA-256 for a transaction id (a
 * collision, which would make a new payment look like a resend, is beyond reach even for an
 * adversary choosing ids), 64 bits for the content that tells a resend from a conflict.
 */
final class Digests {
  private static final ThreadLocal<MessageDigest> SHA_256 = ThreadLocal.withInitial(Digests::sha256);

  private Digests() {
  }

  /** {high, low} 64-bit halves of the first 128 bits of SHA-256(id). */
  static void id128(String id, long[] out) {
    ByteBuffer digest = ByteBuffer.wrap(SHA_256.get().digest(id.getBytes(StandardCharsets.UTF_8)));
    out[0] = digest.getLong();
    out[1] = digest.getLong();
  }

  /** 64 bits of SHA-256 over the fields that make two messages with one id the same payment. */
  static long content(String terminalId, long amountAsSent, String currency, long eventMicros) {
    MessageDigest digest = SHA_256.get();
    digest.update(terminalId.getBytes(StandardCharsets.UTF_8));
    digest.update((byte) 0);
    digest.update(currency.getBytes(StandardCharsets.UTF_8));
    digest.update((byte) 0);
    digest.update(ByteBuffer.allocate(16).putLong(amountAsSent).putLong(eventMicros).array());
    return ByteBuffer.wrap(digest.digest()).getLong();
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException error) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", error);
    }
  }
}
