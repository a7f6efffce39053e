// PersonalData and its sessions: personal fields in and out of their envelopes
// (include/eventstore/personal_data.h). The default key provider is personal_data_keys.cc.
#include "eventstore/personal_data.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <utility>

#include "eventstore/codec.h"
#include "eventstore/error.h"
#include "eventstore/log.h"
#include "hex_digit.h"
#include "personal_data_crypto.h"

namespace eventstore {
namespace {

constexpr const char* kEnvelopeKey = "$personal";
constexpr const char* kEnvelopeVersion = "v1";
// Marks the envelope's associated data, so that a field's ciphertext opens only as a field of
// the subject it names (never as a wrapped key, which has a label of its own).
constexpr std::string_view kFieldLabel{"eventstore personal field v1\0", 29};

std::string field_associated_data(std::string_view subject) { return std::string(kFieldLabel) + std::string(subject); }

nlohmann::json parse(std::string_view json, std::string_view what) {
  try {
    return nlohmann::json::parse(json.empty() ? std::string_view("null") : json);
  } catch (const nlohmann::json::exception& e) {
    throw Error::invalid("personal data: " + std::string(what) + " is not JSON: " + e.what());
  }
}

nlohmann::json::json_pointer pointer_of(const std::string& text) {
  try {
    return nlohmann::json::json_pointer(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error::invalid("personal data: '" + text + "' is not a JSON pointer: " + e.what());
  }
}

// The value at `pointer`, or null when the document has no such member.
const nlohmann::json* find(const nlohmann::json& document, const std::string& pointer) {
  const auto at = pointer_of(pointer);
  if (!document.contains(at)) return nullptr;
  return &document.at(at);
}

bool is_envelope(const nlohmann::json& value) {
  return value.is_object() && value.contains(kEnvelopeKey) && value.contains("subject") && value.contains("sealed");
}

void check_rule(const std::string& what, const PersonalFields& rule) {
  if (rule.fields.empty()) throw Error::invalid("personal data: the rule of " + what + " names no fields");
  if (rule.subject.empty()) throw Error::invalid("personal data: the rule of " + what + " names no subject pointer");
  pointer_of(rule.subject);
  for (const std::string& field : rule.fields) {
    if (field.empty()) throw Error::invalid("personal data: the rule of " + what + " has an empty field pointer");
    pointer_of(field);
    if (field == rule.subject || rule.subject.starts_with(field + "/"))
      throw Error::invalid("personal data: the rule of " + what + " encrypts its own subject id '" + rule.subject +
                           "', which must stay readable to find the key: use a pseudonymous id");
  }
}

}  // namespace

// ---- keys --------------------------------------------------------------------------------------

SecretKey::~SecretKey() { detail::wipe(bytes_.data(), bytes_.size()); }

SecretKey SecretKey::random() { return SecretKey(detail::random_key()); }

KeyEncryptionKey::KeyEncryptionKey(SecretKey key)
    : key_(key),
      id_(detail::fingerprint(
          "eventstore key-encryption key id",
          std::string_view(reinterpret_cast<const char*>(key_.bytes().data()), key_.bytes().size()))) {}

KeyEncryptionKey KeyEncryptionKey::from_hex(std::string_view hex) {
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == '\r' || hex.back() == ' ')) hex.remove_suffix(1);
  if (hex.size() != 64)
    throw Error::invalid("a key-encryption key must be 64 hexadecimal digits (256 bits), not " +
                         std::to_string(hex.size()) + " characters");
  std::array<std::uint8_t, 32> bytes{};
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const int high = detail::hex_digit_value(hex[2 * i]);
    const int low = detail::hex_digit_value(hex[2 * i + 1]);
    if (high < 0 || low < 0) throw Error::invalid("a key-encryption key must be 64 hexadecimal digits");
    bytes[i] = static_cast<std::uint8_t>(high * 16 + low);
  }
  KeyEncryptionKey kek{SecretKey(bytes)};
  detail::wipe(bytes.data(), bytes.size());
  return kek;
}

KeyEncryptionKey KeyEncryptionKey::from_file(const std::string& path) {
  std::ifstream file(path);
  std::string line;
  if (!file || !std::getline(file, line))
    throw Error::invalid("cannot read the key-encryption key file '" + path + "'");
  try {
    KeyEncryptionKey kek = from_hex(line);
    detail::wipe(line.data(), line.size());
    return kek;
  } catch (const Error& e) {
    detail::wipe(line.data(), line.size());
    throw Error::invalid("key-encryption key file '" + path + "': " + e.what());
  }
}

std::optional<KeyEncryptionKey> KeyEncryptionKey::from_environment() {
  if (const char* hex = std::getenv("EVENTSTORE_KEY_ENCRYPTION_KEY"); hex && *hex) {
    try {
      return from_hex(hex);
    } catch (const Error& e) {
      throw Error::invalid(std::string("EVENTSTORE_KEY_ENCRYPTION_KEY: ") + e.what());
    }
  }
  if (const char* path = std::getenv("EVENTSTORE_KEY_ENCRYPTION_KEY_FILE"); path && *path) return from_file(path);
  return std::nullopt;
}

KeyEncryptionKey KeyEncryptionKey::random() { return KeyEncryptionKey(SecretKey::random()); }

std::string KeyEncryptionKey::to_hex() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::uint8_t byte : key_.bytes()) {
    out += kHex[byte >> 4];
    out += kHex[byte & 0x0f];
  }
  return out;
}

std::string_view to_string(ForgetResult::Outcome outcome) noexcept {
  switch (outcome) {
    case ForgetResult::Outcome::kKeyDeleted: return "key_deleted";
    case ForgetResult::Outcome::kNoKey: return "no_key";
    case ForgetResult::Outcome::kAlreadyForgotten: return "already_forgotten";
  }
  return "unknown";
}

// ---- PersonalData --------------------------------------------------------------------------------

PersonalData::PersonalData(std::shared_ptr<KeyProvider> keys, PersonalDataRules rules)
    : keys_(std::move(keys)), rules_(std::move(rules)) {
  if (!keys_) throw Error::invalid("personal data needs a key provider");
  for (const auto& [type, rule] : rules_.events) check_rule("event type '" + type + "'", rule);
  if (rules_.snapshot) check_rule("the snapshot", *rules_.snapshot);
}

PersonalDataSession PersonalData::session() const { return PersonalDataSession(*this); }

// ---- PersonalDataSession -------------------------------------------------------------------------

const KeyLookup& PersonalDataSession::lookup(const std::string& subject) {
  auto found = keys_.find(subject);
  if (found == keys_.end()) found = keys_.emplace(subject, personal_data_->keys_->get(subject)).first;
  return found->second;
}

std::string PersonalDataSession::protect_event(std::string_view event_type, std::string_view json) {
  const auto& events = personal_data_->rules_.events;
  const auto rule = events.find(event_type);
  if (rule == events.end()) return std::string(json);
  return protect(&rule->second, json, false);
}

std::string PersonalDataSession::protect_snapshot(std::string_view json) {
  const auto& rule = personal_data_->rules_.snapshot;
  if (!rule) return std::string(json);
  return protect(&*rule, json, true);
}

std::string PersonalDataSession::protect(const PersonalFields* rule, std::string_view json, bool snapshot) {
  nlohmann::json document = parse(json, "the data to protect");
  std::vector<nlohmann::json::json_pointer> present;
  for (const std::string& field : rule->fields) {
    const nlohmann::json* value = find(document, field);
    if (value && !value->is_null() && !is_envelope(*value)) present.push_back(pointer_of(field));
  }
  if (present.empty()) return std::string(json);

  const nlohmann::json* subject_value = find(document, rule->subject);
  std::string subject;
  if (subject_value && subject_value->is_string()) {
    subject = subject_value->get<std::string>();
  } else if (subject_value && subject_value->is_number_integer()) {
    subject = subject_value->dump();
  }
  if (subject.empty())
    throw Error::invalid("personal data: the subject id at '" + rule->subject +
                         "' is missing, empty or not a string or integer, and personal fields are present");

  auto cached = keys_.find(subject);
  if (cached == keys_.end() || cached->second.state != KeyLookup::State::kFound) {
    try {
      cached = keys_
                   .insert_or_assign(subject,
                                     KeyLookup{KeyLookup::State::kFound, personal_data_->keys_->get_or_create(subject)})
                   .first;
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kStreamDeleted || !snapshot) throw;
      for (const auto& pointer : present) document[pointer] = rule->placeholder;
      erased_fields_ += present.size();
      return document.dump();
    }
  }
  const std::array<std::uint8_t, 32>& key = cached->second.key->bytes();
  for (const auto& pointer : present) {
    std::string plaintext = document[pointer].dump();
    const std::string sealed = detail::gcm_seal(key, plaintext, field_associated_data(subject));
    detail::wipe(plaintext.data(), plaintext.size());
    document[pointer] = nlohmann::json{
        {kEnvelopeKey, kEnvelopeVersion}, {"subject", subject}, {"sealed", detail::base64_encode(sealed)}};
  }
  return document.dump();
}

std::string PersonalDataSession::reveal_event(std::string_view event_type, std::string_view json) {
  const auto& events = personal_data_->rules_.events;
  const auto rule = events.find(event_type);
  return reveal(rule == events.end() ? nullptr : &rule->second, json);
}

std::string PersonalDataSession::reveal_snapshot(std::string_view json) {
  const auto& rule = personal_data_->rules_.snapshot;
  return reveal(rule ? &*rule : nullptr, json);
}

std::string PersonalDataSession::reveal(const PersonalFields* rule, std::string_view json) {
  if (json.find(std::string("\"") + kEnvelopeKey + "\"") == std::string_view::npos) return std::string(json);
  nlohmann::json document;
  try {
    document = detail::parse_json(json);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kCorruption, std::string("personal data: stored data is not JSON: ") + e.what());
  }
  const nlohmann::json placeholder = rule ? rule->placeholder : nlohmann::json("[erased]");
  // Depth first over every value: an envelope anywhere is replaced in place.
  std::vector<nlohmann::json*> pending{&document};
  while (!pending.empty()) {
    nlohmann::json* value = pending.back();
    pending.pop_back();
    if (is_envelope(*value)) {
      const nlohmann::json& subject_value = (*value)["subject"];
      const nlohmann::json& sealed_value = (*value)["sealed"];
      if (!subject_value.is_string() || !sealed_value.is_string() || (*value)[kEnvelopeKey] != kEnvelopeVersion)
        throw Error(ErrorCode::kCorruption, "personal data: an envelope of an unknown form: " + value->dump());
      const std::string subject = subject_value.get<std::string>();
      const KeyLookup& found = lookup(subject);
      if (found.state != KeyLookup::State::kFound) {
        if (found.state == KeyLookup::State::kMissing)
          log(LogLevel::kWarning, "personal data of subject '" + subject +
                                      "' has no key in the key provider (never created, or lost): read as erased");
        *value = placeholder;
        ++erased_fields_;
        continue;
      }
      const std::optional<std::string> sealed = detail::base64_decode(sealed_value.get<std::string>());
      std::optional<std::string> plaintext;
      if (sealed) plaintext = detail::gcm_open(found.key->bytes(), *sealed, field_associated_data(subject));
      if (!plaintext)
        throw Error(ErrorCode::kCorruption, "personal data of subject '" + subject +
                                                "' does not authenticate: changed since it was written, or sealed "
                                                "under another key");
      try {
        *value = nlohmann::json::parse(*plaintext);
      } catch (const nlohmann::json::exception&) {
        detail::wipe(plaintext->data(), plaintext->size());
        throw Error(ErrorCode::kCorruption, "personal data of subject '" + subject + "' decrypts to no JSON value");
      }
      detail::wipe(plaintext->data(), plaintext->size());
    } else if (value->is_structured()) {
      for (auto& child : *value) pending.push_back(&child);
    }
  }
  return document.dump();
}

}  // namespace eventstore
