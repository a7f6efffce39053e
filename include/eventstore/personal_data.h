// Personal data and its erasure by crypto-shredding (docs/erasure.md).
//
// A data subject (a customer, a patient: any string id, best a pseudonymous one such as a UUID)
// has one 256-bit key, held by a KeyProvider. Each personal field of an event or a snapshot is
// stored encrypted with its subject's key (AES-256-GCM) as an envelope object in place of the
// value:
//   {"$personal": "v1", "subject": "<subject id>", "sealed": "<base64 of nonce|ciphertext|tag>"}
// "Forgetting" a subject deletes its key: every copy of its personal fields, in every event,
// snapshot and replica, can no longer be decrypted (backups: docs/erasure.md). Reads give the
// placeholder (PersonalFields::placeholder, by default the JSON string "[erased]") in place of
// each such field: never the plaintext, and never an error that blocks the aggregate.
//
// Invariants:
//  - The subject id itself stays in plaintext (it is how the key is found): it must not be one of
//    the personal fields, and it should carry no personal meaning of its own.
//  - Once forgotten, a subject never gets a key again: storing new personal data of it fails
//    with kStreamDeleted, whichever process asks.
//  - Decryption needs no rules: reveal() decrypts every envelope it finds, so changing the rules
//    later never makes stored data unreadable.
//
// The default KeyProvider (store_key_provider) keeps each subject's key in the store itself,
// wrapped (AES-256-GCM) by a key-encryption key the operator supplies, as one event of its own
// stream in the reserved bounded context "$subject_keys"; forgetting hard-deletes that stream.
//
// Thread safety: KeyEncryptionKey, PersonalData and the default KeyProvider are safe to use from
// many threads; a PersonalDataSession is used by one thread at a time.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "eventstore/event_store.h"
#include "eventstore/export.h"
#include "eventstore/stream_id.h"

namespace eventstore {

// A 256-bit key. Wiped from memory when destroyed.
class EVENTSTORE_EXPORT SecretKey {
 public:
  SecretKey() = default;
  explicit SecretKey(const std::array<std::uint8_t, 32>& bytes) : bytes_(bytes) {}
  SecretKey(const SecretKey&) = default;
  SecretKey& operator=(const SecretKey&) = default;
  ~SecretKey();

  // A new key from the operating system's random generator.
  static SecretKey random();
  const std::array<std::uint8_t, 32>& bytes() const noexcept { return bytes_; }

 private:
  std::array<std::uint8_t, 32> bytes_{};
};

// The key that wraps (encrypts) the subjects' keys in the default provider. Its id, a
// fingerprint that reveals nothing of it, is stored with each wrapped key so that a wrong
// key-encryption key is told apart from tampered data.
class EVENTSTORE_EXPORT KeyEncryptionKey {
 public:
  // Throws Error(kInvalidArgument) unless `hex` is exactly 64 hexadecimal digits (either case).
  static KeyEncryptionKey from_hex(std::string_view hex);
  // The first line of the file `path`, as from_hex. Throws Error(kInvalidArgument) if it
  // cannot be read or is not a key.
  static KeyEncryptionKey from_file(const std::string& path);
  // $EVENTSTORE_KEY_ENCRYPTION_KEY (64 hex digits), else the file named by
  // $EVENTSTORE_KEY_ENCRYPTION_KEY_FILE; nullopt when neither is set. Throws as from_hex and
  // from_file for a value that is not a key.
  static std::optional<KeyEncryptionKey> from_environment();
  // A new random one (tests, and printing one for an operator to keep).
  static KeyEncryptionKey random();

  const SecretKey& key() const noexcept { return key_; }
  // 16 hex digits identifying this key; the same key always has the same id.
  const std::string& id() const noexcept { return id_; }
  // The key as 64 lower-case hex digits: for an operator to store it, never for a log.
  std::string to_hex() const;

 private:
  explicit KeyEncryptionKey(SecretKey key);
  SecretKey key_;
  std::string id_;
};

// What KeyProvider::get learned of a subject.
struct EVENTSTORE_EXPORT KeyLookup {
  enum class State {
    kFound,      // `key` holds the subject's key
    kForgotten,  // the subject was forgotten: its key is gone for good
    kMissing,    // the subject never had a key (or it was lost with the store)
  };
  State state = State::kMissing;
  std::optional<SecretKey> key;
};

// What KeyProvider::forget did.
struct EVENTSTORE_EXPORT ForgetResult {
  enum class Outcome {
    kKeyDeleted,        // the subject had a key; it is deleted
    kNoKey,             // the subject had no key; none can be created for it from now on
    kAlreadyForgotten,  // forgotten before: nothing changed
  };
  Outcome outcome = Outcome::kKeyDeleted;
  // Where it happened, for an operator: e.g. the key stream and the version of its delete.
  std::string detail;
};

// "key_deleted", "no_key", "already_forgotten".
EVENTSTORE_EXPORT std::string_view to_string(ForgetResult::Outcome outcome) noexcept;

// Holds the subjects' keys: the default one (store_key_provider), or a KMS behind the same calls.
// Every method throws eventstore::Error: kInvalidArgument for an empty subject id; a store or
// KMS error as it is (kUnavailable, kUnauthorized, ...); kCorruption for a stored key that does
// not decode or authenticate.
class EVENTSTORE_EXPORT KeyProvider {
 public:
  virtual ~KeyProvider() = default;
  // The subject's key, created when it has none; concurrent callers for the same subject get the
  // same key. Throws Error(kStreamDeleted) if the subject was forgotten.
  virtual SecretKey get_or_create(std::string_view subject) = 0;
  // The subject's key, or why there is none. Never creates one.
  virtual KeyLookup get(std::string_view subject) = 0;
  // Deletes the subject's key for good. Idempotent (kAlreadyForgotten).
  virtual ForgetResult forget(std::string_view subject) = 0;
};

// The default provider's streams: bounded context "$subject_keys", aggregate type "subject_key",
// aggregate id the name-based UUID (version 5) of the subject id. Each of its "subject_key" events
// holds {"subject": id, "kek": key-encryption key id, "wrapped": base64 of the sealed key}; the
// latest one is the subject's key.
inline constexpr const char* kSubjectKeysContext = "$subject_keys";
inline constexpr const char* kSubjectKeyType = "subject_key";
EVENTSTORE_EXPORT StreamId subject_key_stream(std::string_view subject);

// Forgets `subject` in the default provider's streams of `store`: hard-deletes its key stream
// (docs/lifecycle.md), which needs no key-encryption key. Throws as KeyProvider::forget, and
// kInvalidArgument if the store has no lifecycle.
EVENTSTORE_EXPORT ForgetResult forget_subject(EventStore& store, std::string_view subject);

// The default KeyProvider: keys in `store` (kSubjectKeysContext), new ones wrapped by `kek`.
// Keys wrapped by one of `previous` are still unwrapped (a key-encryption key being rotated out,
// docs/erasure.md); a key wrapped by none of them throws Error(kUnauthorized), naming its id.
// Throws Error(kInvalidArgument) for a null store.
EVENTSTORE_EXPORT std::shared_ptr<KeyProvider> store_key_provider(std::shared_ptr<EventStore> store,
                                                                  KeyEncryptionKey kek,
                                                                  std::vector<KeyEncryptionKey> previous = {});

// Wraps the subject's key again with the provider's current key-encryption key if it was wrapped
// by a previous one, and truncates the key stream below the new wrapping (the old one is then
// removed). Returns true if it rewrapped. Throws as KeyProvider::get, and kInvalidArgument if
// `provider` is not a store_key_provider.
EVENTSTORE_EXPORT bool rewrap_subject_key(KeyProvider& provider, std::string_view subject);

// Which fields of one event type (or of the snapshot state) are personal, and whose.
struct EVENTSTORE_EXPORT PersonalFields {
  // JSON pointer (RFC 6901) to the subject id in the same document: a non-empty string, or an
  // integer (used as its decimal text).
  std::string subject;
  // JSON pointers of the personal fields. A field that is absent or null is left as it is.
  std::vector<std::string> fields;
  // What a read gives in place of a field whose subject was forgotten. It must decode into the
  // field's C++ type: the default suits strings; use e.g. nullptr for a std::optional field.
  nlohmann::json placeholder = "[erased]";
};

struct EVENTSTORE_EXPORT PersonalDataRules {
  // By event type name (the codec's event_type).
  std::map<std::string, PersonalFields, std::less<>> events;
  // The aggregate's snapshot state, if it holds personal fields.
  std::optional<PersonalFields> snapshot;
};

class PersonalDataSession;

// Encrypts and decrypts personal fields by `rules` with the keys of `keys`.
class EVENTSTORE_EXPORT PersonalData {
 public:
  // Throws Error(kInvalidArgument) for a null provider, a pointer that is not a JSON pointer, a
  // rule without fields, or a rule whose subject is one of its fields.
  PersonalData(std::shared_ptr<KeyProvider> keys, PersonalDataRules rules);

  // A session for one load or save: it asks the provider once per subject.
  PersonalDataSession session() const;

  const PersonalDataRules& rules() const noexcept { return rules_; }
  KeyProvider& keys() const noexcept { return *keys_; }

 private:
  friend class PersonalDataSession;
  std::shared_ptr<KeyProvider> keys_;
  PersonalDataRules rules_;
};

// One load or save's use of PersonalData; caches the keys it looked up.
class EVENTSTORE_EXPORT PersonalDataSession {
 public:
  explicit PersonalDataSession(const PersonalData& personal_data) : personal_data_(&personal_data) {}

  // The event's JSON text with its rule's personal fields replaced by envelopes; the text as it
  // is when its type has no rule. Throws Error: kInvalidArgument for text that is not JSON, or a
  // personal field present without a subject id; kStreamDeleted if the subject was forgotten;
  // the provider's errors.
  std::string protect_event(std::string_view event_type, std::string_view json);
  // As protect_event with the snapshot rule; except that the fields of a forgotten subject are
  // written as the placeholder instead of failing (a snapshot only derives from the events).
  std::string protect_snapshot(std::string_view json);

  // The JSON text with every envelope decrypted, or replaced by the placeholder (the event
  // type's rule's, else "[erased]") when its subject's key is forgotten or missing. Throws
  // Error: kCorruption for an envelope that does not authenticate (tampered, or another
  // subject's); kUnauthorized when the key-encryption key is not the one that wrapped the key;
  // the provider's errors (kUnavailable, ...).
  std::string reveal_event(std::string_view event_type, std::string_view json);
  std::string reveal_snapshot(std::string_view json);

  // Fields replaced by the placeholder so far.
  std::uint64_t erased_fields() const noexcept { return erased_fields_; }

 private:
  std::string protect(const PersonalFields* rule, std::string_view json, bool snapshot);
  std::string reveal(const PersonalFields* rule, std::string_view json);
  const KeyLookup& lookup(const std::string& subject);

  const PersonalData* personal_data_;
  std::unordered_map<std::string, KeyLookup> keys_;
  std::uint64_t erased_fields_ = 0;
};

}  // namespace eventstore
