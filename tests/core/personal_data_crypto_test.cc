// The cryptography under personal_data.h: AES-256-GCM round trips, tampering, wrong keys and
// associated data, base64, name-based UUIDs and the key-encryption key's parsing.
#include "core/personal_data_crypto.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "conformance/test_support.h"
#include "eventstore/personal_data.h"

namespace eventstore::detail {
namespace {

TEST(PersonalDataCrypto, SealThenOpenRoundTrips) {
  const Key256 key = random_key();
  for (const std::string& plaintext : {std::string(), std::string("\"ada@example.com\""), std::string(5000, 'x')}) {
    const std::string sealed = gcm_seal(key, plaintext, "subject-1");
    EXPECT_EQ(sealed.size(), kGcmNonceBytes + plaintext.size() + kGcmTagBytes);
    const std::optional<std::string> opened = gcm_open(key, sealed, "subject-1");
    ASSERT_TRUE(opened.has_value());
    EXPECT_EQ(*opened, plaintext);
  }
}

TEST(PersonalDataCrypto, EverySealHasAFreshNonce) {
  const Key256 key = random_key();
  EXPECT_NE(gcm_seal(key, "same", "ad"), gcm_seal(key, "same", "ad"));
  EXPECT_NE(random_key(), random_key());
}

TEST(PersonalDataCrypto, AnyChangedByteFailsToOpen) {
  const Key256 key = random_key();
  const std::string sealed = gcm_seal(key, "\"ada@example.com\"", "subject-1");
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    std::string tampered = sealed;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
    EXPECT_FALSE(gcm_open(key, tampered, "subject-1").has_value()) << "byte " << i;
  }
  EXPECT_FALSE(gcm_open(key, sealed.substr(0, sealed.size() - 1), "subject-1").has_value());
  EXPECT_FALSE(gcm_open(key, sealed + "x", "subject-1").has_value());
  EXPECT_FALSE(gcm_open(key, "short", "subject-1").has_value());
}

TEST(PersonalDataCrypto, AnotherKeyOrOtherAssociatedDataFailsToOpen) {
  const Key256 key = random_key();
  const std::string sealed = gcm_seal(key, "secret", "subject-1");
  EXPECT_FALSE(gcm_open(random_key(), sealed, "subject-1").has_value());
  EXPECT_FALSE(gcm_open(key, sealed, "subject-2").has_value());
  EXPECT_TRUE(gcm_open(key, sealed, "subject-1").has_value());
}

TEST(PersonalDataCrypto, Base64RoundTripsAndRejectsGarbage) {
  for (const std::string& bytes :
       {std::string(), std::string("a"), std::string("ab"), std::string("abc"), std::string("\0\xff\x10\x80", 4)}) {
    const std::string text = base64_encode(bytes);
    const auto decoded = base64_decode(text);
    ASSERT_TRUE(decoded.has_value()) << text;
    EXPECT_EQ(*decoded, bytes);
  }
  EXPECT_EQ(base64_encode("abcd"), "YWJjZA==");
  EXPECT_FALSE(base64_decode("YWJjZA=").has_value());
  EXPECT_FALSE(base64_decode("YW=jZA==").has_value());
  EXPECT_FALSE(base64_decode("YWJj ZA=").has_value());
}

TEST(PersonalDataCrypto, NameUuidIsRfc4122Version5) {
  // RFC 4122's example namespace (DNS) and the well-known v5 of "python.org".
  const Uuid dns = *Uuid::parse("6ba7b810-9dad-11d1-80b4-00c04fd430c8");
  EXPECT_EQ(name_uuid(dns, "python.org").to_string(), "886313e1-3b8a-5372-9b90-0c9aee199e5d");
  EXPECT_NE(name_uuid(dns, "a"), name_uuid(dns, "b"));
}

TEST(KeyEncryptionKey, ParsesHexAndHasAStableId) {
  const std::string hex(64, 'a');
  const KeyEncryptionKey kek = KeyEncryptionKey::from_hex(hex);
  EXPECT_EQ(kek.to_hex(), hex);
  EXPECT_EQ(kek.id(), KeyEncryptionKey::from_hex(std::string(64, 'A')).id());
  EXPECT_EQ(kek.id().size(), 16u);
  EXPECT_NE(kek.id(), KeyEncryptionKey::from_hex(std::string(63, 'a') + "b").id());
  EXPECT_EQ(KeyEncryptionKey::from_hex(hex + "\n").id(), kek.id());
  EXPECT_ES_ERROR(KeyEncryptionKey::from_hex(std::string(62, 'a')), ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(KeyEncryptionKey::from_hex(std::string(63, 'a') + "g"), ErrorCode::kInvalidArgument);
  EXPECT_NE(KeyEncryptionKey::random().id(), KeyEncryptionKey::random().id());
}

TEST(KeyEncryptionKey, ComesFromTheEnvironmentOrAFile) {
  const KeyEncryptionKey kek = KeyEncryptionKey::random();
  const auto path = std::filesystem::temp_directory_path() / ("kek-" + Uuid::random().to_string());
  std::ofstream(path) << kek.to_hex() << "\n";
  EXPECT_EQ(KeyEncryptionKey::from_file(path.string()).id(), kek.id());
  EXPECT_ES_ERROR(KeyEncryptionKey::from_file((path.string() + ".missing")), ErrorCode::kInvalidArgument);

  ::unsetenv("EVENTSTORE_KEY_ENCRYPTION_KEY");
  ::unsetenv("EVENTSTORE_KEY_ENCRYPTION_KEY_FILE");
  EXPECT_FALSE(KeyEncryptionKey::from_environment().has_value());
  ::setenv("EVENTSTORE_KEY_ENCRYPTION_KEY_FILE", path.c_str(), 1);
  EXPECT_EQ(KeyEncryptionKey::from_environment()->id(), kek.id());
  ::setenv("EVENTSTORE_KEY_ENCRYPTION_KEY", "not a key", 1);
  EXPECT_ES_ERROR(KeyEncryptionKey::from_environment(), ErrorCode::kInvalidArgument);
  const KeyEncryptionKey other = KeyEncryptionKey::random();
  ::setenv("EVENTSTORE_KEY_ENCRYPTION_KEY", other.to_hex().c_str(), 1);
  EXPECT_EQ(KeyEncryptionKey::from_environment()->id(), other.id());  // the variable wins over the file
  ::unsetenv("EVENTSTORE_KEY_ENCRYPTION_KEY");
  ::unsetenv("EVENTSTORE_KEY_ENCRYPTION_KEY_FILE");
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace eventstore::detail
