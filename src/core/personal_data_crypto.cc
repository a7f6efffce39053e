#include "personal_data_crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cctype>
#include <memory>

#include "eventstore/error.h"

namespace eventstore::detail {
namespace {

using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

CipherContext new_context() {
  CipherContext context(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  if (!context) throw Error(ErrorCode::kInternal, "libcrypto: cannot allocate a cipher context");
  return context;
}

const unsigned char* bytes_of(std::string_view text) { return reinterpret_cast<const unsigned char*>(text.data()); }
unsigned char* bytes_of(std::string& text) { return reinterpret_cast<unsigned char*>(text.data()); }

int length_of(std::string_view text) {
  if (text.size() > 0x7fffffffU) throw Error::invalid("personal data: a value above 2 GiB cannot be encrypted");
  return static_cast<int>(text.size());
}

std::string digest(const EVP_MD* algorithm, std::string_view first, std::string_view second) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!context || EVP_DigestInit_ex(context.get(), algorithm, nullptr) != 1 ||
      EVP_DigestUpdate(context.get(), first.data(), first.size()) != 1 ||
      EVP_DigestUpdate(context.get(), second.data(), second.size()) != 1 ||
      EVP_DigestFinal_ex(context.get(), out, &size) != 1)
    throw Error(ErrorCode::kInternal, "libcrypto: digest failed");
  return std::string(reinterpret_cast<const char*>(out), size);
}

}  // namespace

Key256 random_key() {
  Key256 key{};
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1)
    throw Error(ErrorCode::kInternal, "libcrypto: no random bytes for a key");
  return key;
}

std::string gcm_seal(const Key256& key, std::string_view plaintext, std::string_view associated_data) {
  std::string out(kGcmNonceBytes + plaintext.size() + kGcmTagBytes, '\0');
  unsigned char* nonce = bytes_of(out);
  if (RAND_bytes(nonce, static_cast<int>(kGcmNonceBytes)) != 1)
    throw Error(ErrorCode::kInternal, "libcrypto: no random bytes for a nonce");
  CipherContext context = new_context();
  int written = 0;
  int final_written = 0;
  if (EVP_EncryptInit_ex(context.get(), EVP_aes_256_gcm(), nullptr, key.data(), nonce) != 1 ||
      EVP_EncryptUpdate(context.get(), nullptr, &written, bytes_of(associated_data), length_of(associated_data)) != 1 ||
      EVP_EncryptUpdate(context.get(), nonce + kGcmNonceBytes, &written, bytes_of(plaintext), length_of(plaintext)) !=
          1 ||
      EVP_EncryptFinal_ex(context.get(), nonce + kGcmNonceBytes + written, &final_written) != 1 ||
      EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kGcmTagBytes),
                          nonce + kGcmNonceBytes + plaintext.size()) != 1)
    throw Error(ErrorCode::kInternal, "libcrypto: AES-256-GCM encryption failed");
  return out;
}

std::optional<std::string> gcm_open(const Key256& key, std::string_view sealed, std::string_view associated_data) {
  if (sealed.size() < kGcmNonceBytes + kGcmTagBytes) return std::nullopt;
  const std::string_view nonce = sealed.substr(0, kGcmNonceBytes);
  const std::string_view ciphertext = sealed.substr(kGcmNonceBytes, sealed.size() - kGcmNonceBytes - kGcmTagBytes);
  std::string tag(sealed.substr(sealed.size() - kGcmTagBytes));
  std::string plaintext(ciphertext.size(), '\0');
  CipherContext context = new_context();
  int written = 0;
  int final_written = 0;
  const bool ok =
      EVP_DecryptInit_ex(context.get(), EVP_aes_256_gcm(), nullptr, key.data(), bytes_of(nonce)) == 1 &&
      EVP_DecryptUpdate(context.get(), nullptr, &written, bytes_of(associated_data), length_of(associated_data)) == 1 &&
      EVP_DecryptUpdate(context.get(), bytes_of(plaintext), &written, bytes_of(ciphertext), length_of(ciphertext)) ==
          1 &&
      EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kGcmTagBytes), tag.data()) == 1 &&
      EVP_DecryptFinal_ex(context.get(), bytes_of(plaintext) + written, &final_written) == 1;
  if (!ok) {
    wipe(plaintext.data(), plaintext.size());
    return std::nullopt;
  }
  return plaintext;
}

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int size = EVP_EncodeBlock(bytes_of(out), bytes_of(bytes), length_of(bytes));
  out.resize(static_cast<std::size_t>(size));
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  for (char c : text)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=')) return std::nullopt;
  std::string out(3 * (text.size() / 4) + 1, '\0');
  const int size = EVP_DecodeBlock(bytes_of(out), bytes_of(text), length_of(text));
  if (size < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding as zero bytes.
  std::size_t padding = 0;
  if (text.ends_with("==")) {
    padding = 2;
  } else if (text.ends_with("=")) {
    padding = 1;
  }
  if (text.substr(0, text.size() - padding).find('=') != std::string_view::npos) return std::nullopt;
  out.resize(static_cast<std::size_t>(size) - padding);
  return out;
}

std::string fingerprint(std::string_view label, std::string_view bytes) {
  const std::string hash = digest(EVP_sha256(), label, bytes);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < 8; ++i) {
    const auto byte = static_cast<unsigned char>(hash[i]);
    out += kHex[byte >> 4];
    out += kHex[byte & 0x0f];
  }
  return out;
}

Uuid name_uuid(const Uuid& name_space, std::string_view name) {
  const auto& ns = name_space.bytes();
  const std::string hash =
      digest(EVP_sha1(), std::string_view(reinterpret_cast<const char*>(ns.data()), ns.size()), name);
  std::array<std::uint8_t, 16> bytes{};
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(hash[i]);
  bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0F) | 0x50);  // version 5
  bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3F) | 0x80);  // RFC 4122 variant
  return Uuid(bytes);
}

void wipe(void* bytes, std::size_t size) { OPENSSL_cleanse(bytes, size); }

}  // namespace eventstore::detail
