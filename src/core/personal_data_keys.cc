// The default KeyProvider: each subject's key, wrapped by a key-encryption key, as the events of
// a stream of its own in the bounded context "$subject_keys" (include/eventstore/personal_data.h).
// Keeping keys as streams needs no backend code: they replicate as events do, and forgetting is
// the lifecycle's hard delete, which removes the key event and refuses every later write.
#include <algorithm>
#include <optional>
#include <utility>

#include "eventstore/error.h"
#include "eventstore/personal_data.h"
#include "personal_data_crypto.h"

namespace eventstore {
namespace {

// The namespace of the key streams' name-based UUIDs (a fixed random UUID: never change it, or
// every stored key is lost).
constexpr std::array<std::uint8_t, 16> kSubjectNamespace{0x4f, 0x1c, 0x2e, 0x8a, 0x93, 0x5b, 0x4d, 0x27,
                                                         0xa6, 0x0e, 0x71, 0xc4, 0x3d, 0x95, 0xb8, 0x02};
constexpr std::string_view kWrapLabel{"eventstore subject key v1\0", 26};
// How often get_or_create tries again after an unknown outcome or a lost race.
constexpr int kCreateAttempts = 4;

void check_subject(std::string_view subject) {
  if (subject.empty()) throw Error::invalid("a subject id must not be empty");
}

Error forgotten_error(std::string_view subject, std::int64_t version) {
  return Error(ErrorCode::kStreamDeleted,
               "subject '" + std::string(subject) +
                   "' was forgotten (its key is deleted): new personal data of it cannot be stored",
               version);
}

std::string wrap_associated_data(std::string_view subject) { return std::string(kWrapLabel) + std::string(subject); }

class StoreKeyProvider final : public KeyProvider {
 public:
  StoreKeyProvider(std::shared_ptr<EventStore> store, KeyEncryptionKey kek, std::vector<KeyEncryptionKey> previous)
      : store_(std::move(store)), kek_(std::move(kek)), previous_(std::move(previous)) {
    if (!store_) throw Error::invalid("the subject key provider needs a store");
  }

  SecretKey get_or_create(std::string_view subject) override {
    check_subject(subject);
    const StreamId stream = subject_key_stream(subject);
    // One new key in one event for every attempt: a retry is then the same append.
    std::optional<SecretKey> key;
    std::optional<EventData> event;
    for (int attempt = 1;; ++attempt) {
      const Current current = read_current(stream, subject);
      if (current.lookup.state == KeyLookup::State::kFound) return *current.lookup.key;
      if (current.lookup.state == KeyLookup::State::kForgotten) throw forgotten_error(subject, current.version);
      if (!key) {
        key = SecretKey::random();
        event = wrapped_event(Uuid::random(), subject, *key, kek_);
      }
      try {
        store_->append(stream, ExpectedVersion::no_stream(), {*event});
        return *key;
      } catch (const Error& e) {
        if (e.code() == ErrorCode::kStreamDeleted) throw forgotten_error(subject, e.current_version().value_or(0));
        // Lost the race (the winner's key is read next), or unknown: the same event id makes a
        // retry idempotent, and the read finds the key if it was written.
        const bool again = e.code() == ErrorCode::kVersionConflict || e.code() == ErrorCode::kOutcomeUnknown;
        if (!again || attempt >= kCreateAttempts) throw;
      }
    }
  }

  KeyLookup get(std::string_view subject) override {
    check_subject(subject);
    return read_current(subject_key_stream(subject), subject).lookup;
  }

  ForgetResult forget(std::string_view subject) override { return forget_subject(*store_, subject); }

  bool rewrap(std::string_view subject) {
    check_subject(subject);
    const StreamId stream = subject_key_stream(subject);
    const Current current = read_current(stream, subject);
    if (current.lookup.state != KeyLookup::State::kFound || current.kek_id == kek_.id()) return false;
    const AppendResult appended = store_->append(stream, ExpectedVersion::exact(current.version),
                                                 {wrapped_event(Uuid::random(), subject, *current.lookup.key, kek_)});
    store_->truncate_stream(stream, appended.first_version, ExpectedVersion::exact(appended.first_version));
    return true;
  }

 private:
  struct Current {
    KeyLookup lookup;
    std::int64_t version = 0;  // of the key event, or of the delete that forgot it
    std::string kek_id;
  };

  static EventData wrapped_event(const Uuid& id, std::string_view subject, const SecretKey& key,
                                 const KeyEncryptionKey& kek) {
    const std::string_view plain(reinterpret_cast<const char*>(key.bytes().data()), key.bytes().size());
    const std::string sealed = detail::gcm_seal(kek.key().bytes(), plain, wrap_associated_data(subject));
    const nlohmann::json data{{"subject", subject}, {"kek", kek.id()}, {"wrapped", detail::base64_encode(sealed)}};
    return EventData{id, kSubjectKeyType, data.dump(), std::nullopt, std::nullopt};
  }

  // The latest event of the key stream that is not a "$truncated": the key, or the delete.
  Current read_current(const StreamId& stream, std::string_view subject) const {
    ReadOptions options;
    options.direction = Direction::kBackward;
    options.page_size = 8;
    const std::unique_ptr<EventCursor> cursor = store_->read(stream, options);
    for (std::vector<RecordedEvent> page = cursor->next_page(); !page.empty(); page = cursor->next_page()) {
      for (const RecordedEvent& event : page) {
        if (event.event_type == kTruncatedEventType) continue;
        if (event.event_type == kHardDeletedEventType || event.event_type == kDeletedEventType)
          return Current{KeyLookup{KeyLookup::State::kForgotten, std::nullopt}, event.version, {}};
        return unwrap(event, subject);
      }
    }
    return Current{};
  }

  Current unwrap(const RecordedEvent& event, std::string_view subject) const {
    const std::string where = "the key of subject '" + std::string(subject) + "' (" + to_string(event.stream) +
                              " version " + std::to_string(event.version) + ")";
    nlohmann::json data;
    try {
      data = nlohmann::json::parse(event.data.value_or("null"));
    } catch (const nlohmann::json::exception&) {
      throw Error(ErrorCode::kCorruption, where + " is not JSON");
    }
    if (event.event_type != kSubjectKeyType || !data.is_object() || !data["subject"].is_string() ||
        !data["kek"].is_string() || !data["wrapped"].is_string())
      throw Error(ErrorCode::kCorruption, where + " is not a subject_key event");
    if (data["subject"].get<std::string>() != subject)
      throw Error(ErrorCode::kCorruption, where + " belongs to another subject");
    const std::string kek_id = data["kek"].get<std::string>();
    const KeyEncryptionKey* kek = nullptr;
    if (kek_.id() == kek_id) kek = &kek_;
    for (const KeyEncryptionKey& old : previous_)
      if (!kek && old.id() == kek_id) kek = &old;
    if (!kek)
      throw Error(ErrorCode::kUnauthorized, where + " was wrapped by the key-encryption key " + kek_id +
                                                ", which was not given (this one is " + kek_.id() + ")");
    const std::optional<std::string> sealed = detail::base64_decode(data["wrapped"].get<std::string>());
    std::optional<std::string> plain;
    if (sealed) plain = detail::gcm_open(kek->key().bytes(), *sealed, wrap_associated_data(subject));
    if (!plain || plain->size() != 32)
      throw Error(ErrorCode::kCorruption, where + " does not authenticate under its key-encryption key");
    std::array<std::uint8_t, 32> bytes{};
    std::copy(plain->begin(), plain->end(), bytes.begin());
    detail::wipe(plain->data(), plain->size());
    Current current{KeyLookup{KeyLookup::State::kFound, SecretKey(bytes)}, event.version, kek_id};
    detail::wipe(bytes.data(), bytes.size());
    return current;
  }

  std::shared_ptr<EventStore> store_;
  KeyEncryptionKey kek_;
  std::vector<KeyEncryptionKey> previous_;
};

}  // namespace

StreamId subject_key_stream(std::string_view subject) {
  check_subject(subject);
  return StreamId{kSubjectKeysContext, kSubjectKeyType, detail::name_uuid(Uuid(kSubjectNamespace), subject)};
}

ForgetResult forget_subject(EventStore& store, std::string_view subject) {
  const StreamId stream = subject_key_stream(subject);
  const std::int64_t head = store.head(stream);
  try {
    const AppendResult deleted = store.delete_stream(stream, /*hard=*/true);
    return ForgetResult{
        head > 0 ? ForgetResult::Outcome::kKeyDeleted : ForgetResult::Outcome::kNoKey,
        "key stream " + to_string(stream) + " hard-deleted at version " + std::to_string(deleted.first_version)};
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kStreamDeleted) throw;
    return ForgetResult{ForgetResult::Outcome::kAlreadyForgotten,
                        "key stream " + to_string(stream) + " was hard-deleted at version " +
                            std::to_string(e.current_version().value_or(head))};
  }
}

std::shared_ptr<KeyProvider> store_key_provider(std::shared_ptr<EventStore> store, KeyEncryptionKey kek,
                                                std::vector<KeyEncryptionKey> previous) {
  return std::make_shared<StoreKeyProvider>(std::move(store), std::move(kek), std::move(previous));
}

bool rewrap_subject_key(KeyProvider& provider, std::string_view subject) {
  auto* store_provider = dynamic_cast<StoreKeyProvider*>(&provider);
  if (!store_provider) throw Error::invalid("rewrap_subject_key needs the provider of store_key_provider");
  return store_provider->rewrap(subject);
}

}  // namespace eventstore
