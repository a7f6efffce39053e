// The default key provider and PersonalData on memory: and sqlite: (personal_data.h): keys made
// once and raced for, forgetting, the placeholder after it, and the error for new personal data of
// a forgotten subject.
#include "eventstore/personal_data.h"

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "conformance/test_support.h"
#include "core/personal_data_stores.h"

namespace eventstore::testing {
namespace {

class PersonalDataTest : public ::testing::TestWithParam<PersonalDataStore> {
 protected:
  void SetUp() override { store_ = GetParam().open(); }

  std::shared_ptr<Store> store_;
  KeyEncryptionKey kek_ = KeyEncryptionKey::random();
};

bool same(const SecretKey& a, const SecretKey& b) { return a.bytes() == b.bytes(); }

TEST_P(PersonalDataTest, AKeyIsCreatedOnceAndStoredWrapped) {
  auto keys = store_key_provider(store_, kek_);
  EXPECT_EQ(keys->get("customer-1").state, KeyLookup::State::kMissing);
  const SecretKey key = keys->get_or_create("customer-1");
  EXPECT_TRUE(same(keys->get_or_create("customer-1"), key));
  const KeyLookup found = keys->get("customer-1");
  ASSERT_EQ(found.state, KeyLookup::State::kFound);
  EXPECT_TRUE(same(*found.key, key));
  EXPECT_FALSE(same(keys->get_or_create("customer-2"), key));

  // Another provider over the same store, with the same key-encryption key, finds it.
  EXPECT_TRUE(same(*store_key_provider(store_, kek_)->get("customer-1").key, key));

  // Stored: one event in the subject's own stream, holding no plaintext key.
  const std::vector<RecordedEvent> events = store_->read_all(subject_key_stream("customer-1"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].stream.bounded_context, kSubjectKeysContext);
  EXPECT_EQ(events[0].event_type, kSubjectKeyType);
  const auto data = nlohmann::json::parse(*events[0].data);
  EXPECT_EQ(data["subject"], "customer-1");
  EXPECT_EQ(data["kek"], kek_.id());
  const std::string raw(reinterpret_cast<const char*>(key.bytes().data()), key.bytes().size());
  EXPECT_EQ(events[0].data->find(raw), std::string::npos);
}

TEST_P(PersonalDataTest, ConcurrentCreatorsAllGetTheWinnersKey) {
  constexpr int kThreads = 8;
  std::vector<SecretKey> keys(kThreads);
  std::vector<std::thread> threads;
  std::atomic<int> ready{0};
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] {
      auto provider = store_key_provider(store_, kek_);  // one provider each: nothing shared but the store
      ++ready;
      while (ready < kThreads) std::this_thread::yield();
      keys[i] = provider->get_or_create("raced");
    });
  for (auto& t : threads) t.join();
  for (int i = 1; i < kThreads; ++i) EXPECT_TRUE(same(keys[i], keys[0])) << i;
  EXPECT_EQ(store_->read_all(subject_key_stream("raced")).size(), 1u);
}

TEST_P(PersonalDataTest, ForgetDeletesTheKeyForGood) {
  auto keys = store_key_provider(store_, kek_);
  keys->get_or_create("ada");
  const ForgetResult forgotten = keys->forget("ada");
  EXPECT_EQ(forgotten.outcome, ForgetResult::Outcome::kKeyDeleted);
  EXPECT_NE(forgotten.detail.find("hard-deleted at version 2"), std::string::npos) << forgotten.detail;
  EXPECT_EQ(keys->get("ada").state, KeyLookup::State::kForgotten);
  EXPECT_FALSE(keys->get("ada").key.has_value());
  EXPECT_EQ(keys->forget("ada").outcome, ForgetResult::Outcome::kAlreadyForgotten);

  // No new key, by this provider or another one: a clear error of its own.
  const auto error = error_of([&] { store_key_provider(store_, kek_)->get_or_create("ada"); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code(), ErrorCode::kStreamDeleted);
  EXPECT_NE(std::string(error->what()).find("subject 'ada' was forgotten"), std::string::npos) << error->what();

  // A subject forgotten before it had a key never gets one.
  EXPECT_EQ(keys->forget("bob").outcome, ForgetResult::Outcome::kNoKey);
  EXPECT_ES_ERROR(keys->get_or_create("bob"), ErrorCode::kStreamDeleted);
  EXPECT_EQ(forget_subject(*store_, "bob").outcome, ForgetResult::Outcome::kAlreadyForgotten);
}

TEST_P(PersonalDataTest, AWrongKeyEncryptionKeyIsToldApartFromTampering) {
  store_key_provider(store_, kek_)->get_or_create("cy");
  const auto error = error_of([&] { store_key_provider(store_, KeyEncryptionKey::random())->get("cy"); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code(), ErrorCode::kUnauthorized);
  EXPECT_NE(std::string(error->what()).find(kek_.id()), std::string::npos) << error->what();

  // Rotation: the old key-encryption key, given as a previous one, still unwraps.
  const KeyEncryptionKey next = KeyEncryptionKey::random();
  auto rotated = store_key_provider(store_, next, {kek_});
  const SecretKey key = *rotated->get("cy").key;
  EXPECT_TRUE(same(*store_key_provider(store_, kek_)->get("cy").key, key));
}

TEST_P(PersonalDataTest, RewrapMovesAKeyToTheNewKeyEncryptionKey) {
  const SecretKey key = store_key_provider(store_, kek_)->get_or_create("dee");
  const KeyEncryptionKey next = KeyEncryptionKey::random();
  auto rotated = store_key_provider(store_, next, {kek_});
  EXPECT_TRUE(rewrap_subject_key(*rotated, "dee"));
  EXPECT_FALSE(rewrap_subject_key(*rotated, "dee"));  // already under the new one
  EXPECT_TRUE(same(*store_key_provider(store_, next)->get("dee").key, key));
  EXPECT_ES_ERROR(store_key_provider(store_, kek_)->get("dee"), ErrorCode::kUnauthorized);
  for (const RecordedEvent& event : store_->read_all(subject_key_stream("dee"))) {
    if (event.event_type == kSubjectKeyType) {
      EXPECT_EQ(nlohmann::json::parse(*event.data)["kek"], next.id());
    }
  }
}

TEST_P(PersonalDataTest, RejectsEmptySubjects) {
  auto keys = store_key_provider(store_, kek_);
  EXPECT_ES_ERROR(keys->get_or_create(""), ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(keys->get(""), ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(keys->forget(""), ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(store_key_provider(nullptr, kek_), ErrorCode::kInvalidArgument);
}

// ---- PersonalData: envelopes --------------------------------------------------------------------

PersonalDataRules customer_rules() {
  PersonalDataRules rules;
  rules.events["CustomerRegistered"] = {"/customer_id", {"/email", "/address/street"}};
  rules.snapshot = PersonalFields{"/id", {"/email"}};
  return rules;
}

TEST_P(PersonalDataTest, ProtectedFieldsRevealAndErase) {
  const PersonalData personal(store_key_provider(store_, kek_), customer_rules());
  const std::string plain =
      R"({"address":{"city":"Paris","street":"1 rue de la Paix"},"customer_id":"c-1","email":"ada@example.com","vip":true})";

  PersonalDataSession writer = personal.session();
  const std::string stored = writer.protect_event("CustomerRegistered", plain);
  EXPECT_EQ(stored.find("ada@example.com"), std::string::npos) << stored;
  EXPECT_EQ(stored.find("rue de la Paix"), std::string::npos) << stored;
  const auto document = nlohmann::json::parse(stored);
  EXPECT_EQ(document["email"]["$personal"], "v1");
  EXPECT_EQ(document["email"]["subject"], "c-1");
  EXPECT_EQ(document["address"]["city"], "Paris");
  EXPECT_EQ(document["customer_id"], "c-1");

  // Other types, and rules whose fields are absent or null, pass unchanged.
  EXPECT_EQ(writer.protect_event("Other", plain), plain);
  EXPECT_EQ(writer.protect_event("CustomerRegistered", R"({"customer_id":"c-1","email":null})"),
            R"({"customer_id":"c-1","email":null})");

  EXPECT_EQ(personal.session().reveal_event("CustomerRegistered", stored), nlohmann::json::parse(plain).dump());
  EXPECT_EQ(personal.session().reveal_event("AnyType", stored), nlohmann::json::parse(plain).dump());

  personal.keys().forget("c-1");
  PersonalDataSession reader = personal.session();
  const auto erased = nlohmann::json::parse(reader.reveal_event("CustomerRegistered", stored));
  EXPECT_EQ(erased["email"], "[erased]");
  EXPECT_EQ(erased["address"]["street"], "[erased]");
  EXPECT_EQ(erased["address"]["city"], "Paris");
  EXPECT_EQ(reader.erased_fields(), 2u);

  // New personal data of the forgotten subject: refused; a snapshot gets the placeholder.
  EXPECT_ES_ERROR(personal.session().protect_event("CustomerRegistered", plain), ErrorCode::kStreamDeleted);
  const auto snapshot =
      nlohmann::json::parse(personal.session().protect_snapshot(R"({"id":"c-1","email":"ada@example.com"})"));
  EXPECT_EQ(snapshot["email"], "[erased]");
}

TEST_P(PersonalDataTest, TamperedFieldsAreCorruptionNotErasure) {
  const PersonalData personal(store_key_provider(store_, kek_), customer_rules());
  auto document = nlohmann::json::parse(
      personal.session().protect_event("CustomerRegistered", R"({"customer_id":"c-2","email":"bob@example.com"})"));
  std::string sealed = document["email"]["sealed"];
  sealed[4] = sealed[4] == 'A' ? 'B' : 'A';
  document["email"]["sealed"] = sealed;
  EXPECT_ES_ERROR(personal.session().reveal_event("CustomerRegistered", document.dump()), ErrorCode::kCorruption);

  // Moved to another subject (whose key exists): does not authenticate either.
  personal.keys().get_or_create("c-3");
  auto moved = nlohmann::json::parse(
      personal.session().protect_event("CustomerRegistered", R"({"customer_id":"c-2","email":"bob@example.com"})"));
  moved["email"]["subject"] = "c-3";
  EXPECT_ES_ERROR(personal.session().reveal_event("CustomerRegistered", moved.dump()), ErrorCode::kCorruption);
}

TEST_P(PersonalDataTest, ASubjectIsNeededAndRulesAreChecked) {
  auto keys = store_key_provider(store_, kek_);
  const PersonalData personal(keys, customer_rules());
  EXPECT_ES_ERROR(personal.session().protect_event("CustomerRegistered", R"({"email":"x@example.com"})"),
                  ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(personal.session().protect_event("CustomerRegistered", R"({"customer_id":"","email":"x"})"),
                  ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(personal.session().protect_event("CustomerRegistered", "not json"), ErrorCode::kInvalidArgument);
  // An integer subject id is its decimal text.
  const auto numbered = nlohmann::json::parse(
      personal.session().protect_event("CustomerRegistered", R"({"customer_id":42,"email":"x"})"));
  EXPECT_EQ(numbered["email"]["subject"], "42");

  PersonalDataRules self;
  self.events["E"] = {"/email", {"/email"}};
  EXPECT_ES_ERROR(PersonalData(keys, self), ErrorCode::kInvalidArgument);
  PersonalDataRules bad_pointer;
  bad_pointer.events["E"] = {"/id", {"email"}};
  EXPECT_ES_ERROR(PersonalData(keys, bad_pointer), ErrorCode::kInvalidArgument);
  PersonalDataRules no_fields;
  no_fields.events["E"] = {"/id", {}};
  EXPECT_ES_ERROR(PersonalData(keys, no_fields), ErrorCode::kInvalidArgument);
  EXPECT_ES_ERROR(PersonalData(nullptr, customer_rules()), ErrorCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Stores, PersonalDataTest, ::testing::ValuesIn(personal_data_stores()), store_test_name);

}  // namespace
}  // namespace eventstore::testing
