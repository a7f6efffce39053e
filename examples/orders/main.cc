// The orders example: an Order aggregate driven through its life-cycle on a store, then a read
// model of all orders (customer_revenue.h) fed from the bounded context's feed, exactly once,
// then a customer forgotten (crypto-shredding, docs/erasure.md).
//   orders_example [STORE_URI [READ_MODEL]]   (default memory:; try sqlite:orders.db)
// READ_MODEL is the read model's SQLite file; by default orders_read_model.db next to a store
// sqlite:orders.db, and in memory for the other stores. The customers' e-mail addresses are
// stored encrypted; their keys are wrapped by $EVENTSTORE_KEY_ENCRYPTION_KEY (64 hex digits), or
// by the example's own fixed key when it is not set (never do that with real data).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "customer_revenue.h"
#include "eventstore/eventstore.h"
#include "order.h"

namespace {

constexpr const char* kContext = "shop";
// Section 3's orders: a context of their own, so that the read model above sees the same feed at
// every run.
constexpr const char* kErasureContext = "shop_erasure";
// Only for this example: real key-encryption keys come from a secret store (docs/erasure.md).
constexpr const char* kExampleKeyEncryptionKey = "6578616d706c65206b65793a206e657665722075736520697420666f72207265";

// The customers' ids: pseudonymous, so that the id left in plaintext says nothing of the person.
std::string customer_id_of(std::string_view email) {
  if (email == "ada@example.com") return "5d0e7a52-6c1b-4f0a-9a43-2f7d3c9e8b01";
  if (email == "bob@example.com") return "1f4b8c9d-2e3a-4b5c-8d6e-7f8091a2b3c4";
  if (email == "cy@example.com") return "9a8b7c6d-5e4f-4a3b-9c2d-1e0f2a3b4c5d";
  return "e2d3c4b5-a697-4887-9968-5a4b3c2d1e0f";
}

// One order placed in one save: created, one item, paid; then cancelled (refunded) if `cancel`.
struct Sale {
  const char* customer;
  const char* sku;
  std::int64_t quantity;
  std::int64_t unit_price_cents;
  bool cancel;
};

void place(eventstore::AggregateStore<orders::Order>& repository, const Sale& sale) {
  orders::OrderAggregate order = repository.load(eventstore::Uuid::random());
  orders::create(order, sale.customer, customer_id_of(sale.customer));
  orders::add_item(order, sale.sku, sale.quantity, sale.unit_price_cents);
  orders::pay(order, order.state().total_cents());
  if (sale.cancel) orders::cancel(order, "changed their mind");
  repository.save(order);
}

// Placed before the read model catches up.
constexpr Sale kEarlierSales[] = {{"bob@example.com", "mug-large", 2, 1250, false},
                                  {"cy@example.com", "tea-green", 3, 650, false},
                                  {"ada@example.com", "lamp-desk", 1, 3499, true}};
// Placed by a writer thread while the read model follows the feed live.
constexpr Sale kLiveSales[] = {
    {"bob@example.com", "book-sicp", 1, 4599, false},  {"ada@example.com", "pen-blue", 5, 199, false},
    {"dee@example.com", "headphones", 1, 8999, false}, {"cy@example.com", "socks-wool", 2, 1500, true},
    {"dee@example.com", "cable-usb-c", 2, 999, false}, {"bob@example.com", "tea-black", 4, 590, false}};

std::string money(std::int64_t cents) {
  char text[32];
  std::snprintf(text, sizeof text, "%lld.%02lld", static_cast<long long>(cents / 100),
                static_cast<long long>(cents % 100));
  return text;
}

// Section 3: a new customer's order, the customer forgotten, the order loaded again.
void forget_a_customer(const std::shared_ptr<eventstore::Store>& store,
                       const std::shared_ptr<const eventstore::PersonalData>& personal_data) {
  eventstore::AggregateStore<orders::Order> shop(store, kErasureContext, {.personal_data = personal_data});
  const std::string customer_id = eventstore::Uuid::random().to_string();
  orders::OrderAggregate order = shop.load(eventstore::Uuid::random());
  orders::create(order, "eve@example.com", customer_id);
  orders::add_item(order, "scarf-red", 1, 2500);
  orders::pay(order, order.state().total_cents());
  shop.save(order);
  std::printf("erasure: stored %s\n", store->read_all(shop.stream_of(order.id())).front().data.value_or("").c_str());
  std::printf("erasure: loaded customer %s\n", shop.load(order.id()).state().customer.c_str());

  eventstore::ForgetResult forgotten;
  try {
    forgotten = personal_data->keys().forget(customer_id);  // as `eventstore subject forget` does
  } catch (const eventstore::Error& e) {
    if (e.code() != eventstore::ErrorCode::kInvalidArgument) throw;
    std::printf("erasure: this store cannot forget yet (%s)\n", e.what());
    return;
  }
  std::printf("erasure: customer forgotten: %s, %s\n", std::string(eventstore::to_string(forgotten.outcome)).c_str(),
              forgotten.detail.c_str());
  const orders::OrderAggregate after = shop.load(order.id());
  std::printf("erasure: loaded customer %s, paid %lld cents\n", after.state().customer.c_str(),
              static_cast<long long>(after.state().paid_cents));
  orders::OrderAggregate again = shop.load(eventstore::Uuid::random());
  orders::create(again, "eve@example.com", customer_id);
  try {
    shop.save(again);
  } catch (const eventstore::Error& e) {
    std::printf("erasure: a new order of the forgotten customer is refused: %s\n", e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string uri = argc > 1 ? argv[1] : "memory:";
    std::shared_ptr<eventstore::Store> store = eventstore::open_store(uri);

    // The customers' keys live in the store, wrapped by the key-encryption key.
    std::optional<eventstore::KeyEncryptionKey> kek = eventstore::KeyEncryptionKey::from_environment();
    if (!kek) kek = eventstore::KeyEncryptionKey::from_hex(kExampleKeyEncryptionKey);
    const auto personal_data = std::make_shared<const eventstore::PersonalData>(
        eventstore::store_key_provider(store, *kek), orders::personal_data_rules());

    // ---- 1. One order through its life-cycle, with AggregateStore ------------------------------
    // Snapshot every 4 events so the load below starts from a snapshot; e-mail addresses encrypted.
    eventstore::AggregateStore<orders::Order> repository(
        store, kContext, {.snapshot_policy = eventstore::every_n_events(4), .personal_data = personal_data});

    const eventstore::Uuid id = eventstore::Uuid::random();
    orders::OrderAggregate order = repository.load(id);  // a new order: version 0
    orders::create(order, "ada@example.com", customer_id_of("ada@example.com"));
    orders::add_item(order, "book-42", 2, 1999);
    orders::add_item(order, "pen-7", 3, 250);
    repository.save(order);  // one append of three events

    orders::remove_item(order, "pen-7");
    orders::add_item(order, "pen-9", 1, 450);
    repository.save(order);  // crosses version 4: a snapshot is written

    // The aggregate refuses invalid commands before anything is stored.
    try {
      orders::ship(order, "TRACK-1");
    } catch (const orders::DomainError& e) {
      std::printf("refused as expected: %s\n", e.what());
    }

    orders::pay(order, order.state().total_cents());
    repository.save(order);
    // execute() = load + command + save, retried on a version conflict.
    repository.execute(id, [](orders::OrderAggregate& o) { orders::ship(o, "TRACK-1"); });

    const orders::OrderAggregate loaded = repository.load(id);
    std::printf("order %s on %s\n", id.to_string().c_str(), store->describe().c_str());
    std::printf("version %lld, state %s\n", static_cast<long long>(loaded.version()),
                nlohmann::json(loaded.state()).dump().c_str());
    const auto stats = repository.stats();
    std::printf("snapshots written: %llu\n", static_cast<unsigned long long>(stats.snapshots_written));
    for (const eventstore::RecordedEvent& e : store->read_all(repository.stream_of(id)))
      std::printf("  v%lld %s %s\n", static_cast<long long>(e.version), e.event_type.c_str(),
                  e.data.value_or("null").c_str());

    // ---- 2. A read model fed from the context's feed ------------------------------------------
    for (const Sale& sale : kEarlierSales) place(repository, sale);

    // A cluster's feed is ordered by a relay (docs/feed.md); memory: and sqlite: need none (nullptr).
    eventstore::RelayOptions relay_options;
    relay_options.context = kContext;
    const std::unique_ptr<eventstore::FeedRelay> relay = store->start_relay(relay_options);

    const std::string path = argc > 2 ? argv[2] : orders::default_read_model_path(uri);
    orders::CustomerRevenue read_model(path, personal_data);
    const std::unique_ptr<eventstore::Subscription> feed = read_model.subscribe(store, kContext);
    std::printf("feed of '%s': head %lld; read model %s at position %lld\n", kContext,
                static_cast<long long>(store->feed_head(kContext)), path == ":memory:" ? "in memory" : path.c_str(),
                static_cast<long long>(read_model.position()));

    // Catch up: page after page until a page covers nothing new.
    std::size_t applied = 0;
    for (;;) {
      const eventstore::FeedPage page = feed->next_page();
      if (page.last_position == read_model.position()) break;
      applied += read_model.apply(page);
    }
    std::printf("caught up: %zu events applied, now at position %lld\n", applied,
                static_cast<long long>(read_model.position()));

    // Follow live while a writer thread places more orders, until it is done and the read model
    // has reached the feed's head. (On memory: and sqlite: an acknowledged append is in the feed
    // at once; a cluster's relay publishes it within its delay, docs/feed.md.)
    std::atomic<bool> writing{true};
    std::exception_ptr writer_error;
    std::jthread writer([&] {  // joins on the way out, also when the loop below throws
      try {
        for (const Sale& sale : kLiveSales) {
          place(repository, sale);
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      } catch (...) {
        writer_error = std::current_exception();
      }
      writing = false;
    });
    std::size_t pages = 0;
    applied = 0;
    while (writing || read_model.position() < store->feed_head(kContext)) {
      const eventstore::FeedPage page = feed->next_page(std::chrono::milliseconds(100));  // waits for news
      if (!page.entries.empty()) ++pages;
      applied += read_model.apply(page);
    }
    writer.join();
    if (writer_error) std::rethrow_exception(writer_error);
    std::printf("followed live: %zu events applied in %zu pages while orders were placed, now at position %lld\n",
                applied, pages, static_cast<long long>(read_model.position()));

    std::printf("%-18s %6s %9s %9s\n", "customer", "orders", "cancelled", "revenue");
    for (const orders::CustomerTotals& c : read_model.customers())
      std::printf("%-18s %6lld %9lld %9s\n", c.customer.c_str(), static_cast<long long>(c.orders),
                  static_cast<long long>(c.cancelled), money(c.revenue_cents).c_str());
    std::printf("read model at position %lld of feed head %lld\n", static_cast<long long>(read_model.position()),
                static_cast<long long>(store->feed_head(kContext)));

    // ---- 3. A customer forgotten: crypto-shredding ----------------------------------------------
    forget_a_customer(store, personal_data);
    return loaded.state().status == orders::Status::kShipped ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "orders_example: error: %s\n", e.what());
    return 1;
  }
}
