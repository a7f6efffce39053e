// AggregateStore with personal fields (personal_data.h, docs/erasure.md): stored encrypted in
// events and snapshots, loaded in plaintext, and after the subject is forgotten loaded as the
// placeholder, never as an error; new personal data of a forgotten subject is refused.
#include <gtest/gtest.h>

#include "conformance/test_support.h"
#include "core/personal_data_stores.h"
#include "eventstore/aggregate_store.h"

namespace eventstore::testing {
namespace {

struct Registered {
  static constexpr std::string_view event_type = "Registered";
  std::string customer_id;
  std::string email;
  std::string name;
};
struct Renamed {
  static constexpr std::string_view event_type = "Renamed";
  std::string customer_id;
  std::string name;
};
struct Upgraded {
  static constexpr std::string_view event_type = "Upgraded";
  int level = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Registered, customer_id, email, name)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Renamed, customer_id, name)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Upgraded, level)

struct Account {
  static constexpr std::string_view aggregate_type = "account";
  using Event = std::variant<Registered, Renamed, Upgraded>;
  std::string customer_id;
  std::string email;
  std::string name;
  int level = 0;
  void apply(const Registered& e) {
    customer_id = e.customer_id;
    email = e.email;
    name = e.name;
  }
  void apply(const Renamed& e) { name = e.name; }
  void apply(const Upgraded& e) { level = e.level; }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Account, customer_id, email, name, level)

PersonalDataRules account_rules() {
  PersonalDataRules rules;
  rules.events["Registered"] = {"/customer_id", {"/email", "/name"}};
  rules.events["Renamed"] = {"/customer_id", {"/name"}};
  rules.snapshot = PersonalFields{"/customer_id", {"/email", "/name"}};
  return rules;
}

class PersonalAggregateTest : public ::testing::TestWithParam<PersonalDataStore> {
 protected:
  void SetUp() override {
    store_ = GetParam().open();
    personal_ = std::make_shared<PersonalData>(store_key_provider(store_, KeyEncryptionKey::random()), account_rules());
  }

  AggregateStore<Account> accounts(SnapshotPolicy policy) {
    AggregateStoreOptions options;
    options.snapshot_policy = std::move(policy);
    options.personal_data = personal_;
    return AggregateStore<Account>(store_, "crm", std::move(options));
  }

  // Registers customer `customer_id` on a new account, renames and upgrades it: four events.
  Uuid open_account(AggregateStore<Account>& store, const std::string& customer_id) {
    const Uuid id = Uuid::random();
    Aggregate<Account> account = store.load(id);
    account.record(Registered{customer_id, customer_id + "@example.com", "Ada Lovelace"});
    account.record(Upgraded{1});
    store.save(account);
    account.record(Renamed{customer_id, "Ada King"});
    account.record(Upgraded{2});
    store.save(account);
    return id;
  }

  std::string stored_text(AggregateStore<Account>& store, const Uuid& id) {
    std::string text;
    for (const RecordedEvent& e : store_->read_all(store.stream_of(id))) text += e.data.value_or("") + "\n";
    if (auto snapshot = store_->load_snapshot(store.stream_of(id))) text += snapshot->data;
    return text;
  }

  std::shared_ptr<Store> store_;
  std::shared_ptr<PersonalData> personal_;
};

TEST_P(PersonalAggregateTest, PersonalFieldsAreStoredEncryptedAndLoadInPlaintext) {
  auto store = accounts(every_n_events(4));
  const Uuid id = open_account(store, "c-1");
  EXPECT_EQ(store.stats().snapshots_written, 1u);
  const std::string stored = stored_text(store, id);
  EXPECT_EQ(stored.find("c-1@example.com"), std::string::npos) << stored;
  EXPECT_EQ(stored.find("Ada"), std::string::npos) << stored;
  EXPECT_NE(stored.find("\"$personal\""), std::string::npos) << stored;

  const Aggregate<Account> loaded = store.load(id);  // from the snapshot
  EXPECT_EQ(loaded.version(), 4);
  EXPECT_EQ(loaded.state().email, "c-1@example.com");
  EXPECT_EQ(loaded.state().name, "Ada King");
  EXPECT_EQ(loaded.state().level, 2);

  const Aggregate<Account> replayed = accounts(never()).load(id);
  EXPECT_EQ(replayed.state().email, "c-1@example.com");
  EXPECT_EQ(replayed.state().name, "Ada King");
  EXPECT_EQ(store.stats().personal_fields_erased, 0u);
}

TEST_P(PersonalAggregateTest, AfterForgetEventsLoadWithThePlaceholder) {
  auto store = accounts(never());
  const Uuid id = open_account(store, "c-2");
  const Uuid other = open_account(store, "c-3");
  EXPECT_EQ(personal_->keys().forget("c-2").outcome, ForgetResult::Outcome::kKeyDeleted);

  const Aggregate<Account> loaded = store.load(id);
  EXPECT_EQ(loaded.version(), 4);
  EXPECT_EQ(loaded.state().customer_id, "c-2");
  EXPECT_EQ(loaded.state().email, "[erased]");
  EXPECT_EQ(loaded.state().name, "[erased]");
  EXPECT_EQ(loaded.state().level, 2);  // what is not personal stays
  EXPECT_EQ(store.stats().personal_fields_erased, 3u);
  EXPECT_EQ(store.load(other).state().email, "c-3@example.com");  // another subject is untouched

  // The aggregate goes on: events without personal data save; new personal data is refused.
  Aggregate<Account> account = store.load(id);
  account.record(Upgraded{3});
  store.save(account);
  account.record(Renamed{"c-2", "Someone"});
  const auto error = error_of([&] { store.save(account); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code(), ErrorCode::kStreamDeleted);
  EXPECT_NE(std::string(error->what()).find("subject 'c-2' was forgotten"), std::string::npos) << error->what();
  EXPECT_EQ(store.load(id).version(), 5);  // nothing of the refused save was written
}

TEST_P(PersonalAggregateTest, AfterForgetSnapshotsLoadWithThePlaceholder) {
  auto store = accounts(every_n_events(4));
  const Uuid id = open_account(store, "c-4");
  ASSERT_EQ(store.stats().snapshots_written, 1u);
  personal_->keys().forget("c-4");

  const Aggregate<Account> loaded = store.load(id);  // from the snapshot at version 4
  EXPECT_EQ(loaded.version(), 4);
  EXPECT_EQ(loaded.state().email, "[erased]");
  EXPECT_EQ(loaded.state().name, "[erased]");
  EXPECT_EQ(loaded.state().level, 2);
  EXPECT_EQ(store.stats().snapshot_decode_failures, 0u);
  EXPECT_EQ(store.stats().personal_fields_erased, 2u);

  // A snapshot written after the forget holds the placeholder, not a failure.
  Aggregate<Account> account = store.load(id);
  for (int level = 3; level <= 6; ++level) account.record(Upgraded{level});
  EXPECT_TRUE(store.save(account).snapshot_written);
  EXPECT_EQ(store.stats().snapshot_write_failures, 0u);
  const auto snapshot = nlohmann::json::parse(store_->load_snapshot(store.stream_of(id))->data);
  EXPECT_EQ(snapshot["email"], "[erased]");
  EXPECT_EQ(store.load(id).state().level, 6);
}

TEST_P(PersonalAggregateTest, ATamperedSnapshotIsSkippedAndTheEventsReplay) {
  auto store = accounts(every_n_events(4));
  const Uuid id = open_account(store, "c-5");
  Snapshot snapshot = *store_->load_snapshot(store.stream_of(id));
  auto state = nlohmann::json::parse(snapshot.data);
  std::string sealed = state["email"]["sealed"];
  sealed[3] = sealed[3] == 'A' ? 'B' : 'A';
  state["email"]["sealed"] = sealed;
  // Stored over the original: a snapshot at a higher version is the only way in; make the stream longer.
  Aggregate<Account> account = store.load(id);
  account.record(Upgraded{9});
  AggregateStore<Account>(store_, "crm", AggregateStoreOptions{.snapshot_policy = never()}).save(account);
  snapshot.version = 5;
  snapshot.data = state.dump();
  ASSERT_TRUE(store_->save_snapshot(store.stream_of(id), snapshot).stored);

  const Aggregate<Account> loaded = store.load(id);
  EXPECT_EQ(store.stats().snapshot_decode_failures, 1u);
  EXPECT_EQ(loaded.state().email, "c-5@example.com");
  EXPECT_EQ(loaded.state().level, 9);
}

INSTANTIATE_TEST_SUITE_P(Stores, PersonalAggregateTest, ::testing::ValuesIn(personal_data_stores()), store_test_name);

}  // namespace
}  // namespace eventstore::testing
