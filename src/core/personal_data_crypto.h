// The cryptography of personal_data.h, over OpenSSL 3's libcrypto: AES-256-GCM sealing, random
// keys, base64, and name-based UUIDs (the key stream of a subject).
//
// Sealed format: nonce (12 random bytes) | ciphertext | tag (16 bytes). The associated data is
// authenticated, not stored: opening with other associated data fails like a tampered byte.
//
// Errors: seal and random_key throw Error(kInternal) when libcrypto fails (out of memory, no
// entropy); open returns nullopt for anything that does not authenticate.
// Thread safety: pure functions, safe from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "eventstore/uuid.h"

namespace eventstore::detail {

inline constexpr std::size_t kGcmNonceBytes = 12;
inline constexpr std::size_t kGcmTagBytes = 16;

using Key256 = std::array<std::uint8_t, 32>;

// A key from the operating system's random generator (RAND_bytes).
Key256 random_key();

// AES-256-GCM of `plaintext` under `key`, authenticating `associated_data` too.
std::string gcm_seal(const Key256& key, std::string_view plaintext, std::string_view associated_data);

// The plaintext of gcm_seal's output; nullopt if it is too short, was changed, or was sealed
// under another key or other associated data.
std::optional<std::string> gcm_open(const Key256& key, std::string_view sealed, std::string_view associated_data);

// Standard base64 (RFC 4648, with padding). decode: nullopt for anything else.
std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

// The first 8 bytes of SHA-256(label | bytes), as 16 lower-case hex digits.
std::string fingerprint(std::string_view label, std::string_view bytes);

// The name-based UUID (version 5, SHA-1, RFC 4122) of `name` in `name_space`.
Uuid name_uuid(const Uuid& name_space, std::string_view name);

// Overwrites `bytes` with zeros in a way the compiler keeps (OPENSSL_cleanse).
void wipe(void* bytes, std::size_t size);

}  // namespace eventstore::detail
