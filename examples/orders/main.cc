// The orders example: an Order aggregate driven through its life-cycle on a store.
//   orders_example [STORE_URI]     (default memory:; try sqlite:orders.db)
#include <cstdio>
#include <exception>
#include <string>

#include "eventstore/eventstore.h"
#include "order.h"

int main(int argc, char** argv) {
  try {
    const std::string uri = argc > 1 ? argv[1] : "memory:";
    std::shared_ptr<eventstore::Store> store = eventstore::open_store(uri);

    // Snapshot every 4 events so the load below starts from a snapshot.
    eventstore::AggregateStore<orders::Order> repository(
        store, "shop", {.snapshot_policy = eventstore::every_n_events(4)});

    const eventstore::Uuid id = eventstore::Uuid::random();
    orders::OrderAggregate order = repository.load(id);  // a new order: version 0
    orders::create(order, "ada@example.com");
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
    std::printf("snapshots written: %llu\n",
                static_cast<unsigned long long>(stats.snapshots_written));
    for (const eventstore::RecordedEvent& e : store->read_all(repository.stream_of(id)))
      std::printf("  v%lld %s %s\n", static_cast<long long>(e.version), e.event_type.c_str(),
                  e.data.value_or("null").c_str());
    return loaded.state().status == orders::Status::kShipped ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "orders_example: error: %s\n", e.what());
    return 1;
  }
}
