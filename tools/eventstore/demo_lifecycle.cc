// The demo's last section: the stream lifecycle (docs/lifecycle.md) on one order.
#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "order.h"

namespace eventstore_cli {
namespace {

using orders::Order;
using orders::OrderAggregate;

// Its own bounded context, so that the read model of 'demo' keeps every order.
constexpr const char* kLifecycleContext = "demo_lifecycle";

}  // namespace

void print_demo_lifecycle(const std::shared_ptr<eventstore::Store>& store, const eventstore::Uuid& id) {
  eventstore::AggregateStoreOptions options;
  options.snapshot_policy = eventstore::every_n_events(10);
  eventstore::AggregateStore<Order> orders_kept(store, kLifecycleContext, options);
  const eventstore::StreamId stream = orders_kept.stream_of(id);
  orders_kept.execute(id, [](OrderAggregate& o) { orders::create(o, "lifecycle@example.com"); });
  for (int i = 1; i <= 12; ++i)
    orders_kept.execute(id, [i](OrderAggregate& o) { orders::add_item(o, "sku-" + std::to_string(i), 1, 100); });
  const OrderAggregate before = orders_kept.load(id);
  const std::int64_t kept_from = store->load_snapshot(stream).value().version;
  const eventstore::AppendResult truncated =
      store->truncate_stream(stream, kept_from, eventstore::ExpectedVersion::exact(before.version()));
  const OrderAggregate after = orders_kept.load(id);
  const bool same = nlohmann::json(before.state()) == nlohmann::json(after.state());
  std::printf("\nLifecycle (docs/lifecycle.md): order %s of context '%s'\n", id.to_string().c_str(), kLifecycleContext);
  std::printf(
      "truncate:           before its snapshot's version %lld: events 1..%lld removed, $truncated at version "
      "%lld; load: state %s\n",
      static_cast<long long>(kept_from), static_cast<long long>(kept_from - 1),
      static_cast<long long>(truncated.first_version), same ? "the same as before" : "DIFFERENT from before (a bug)");
  if (!same) throw eventstore::Error(eventstore::ErrorCode::kInternal, "the truncated order loads differently");
  const eventstore::AppendResult deleted =
      store->delete_stream(stream, false, eventstore::ExpectedVersion::exact(after.version()));
  const OrderAggregate fresh = orders_kept.load(id);
  std::printf("delete:             $deleted at version %lld; load: a new order at version %lld with %zu lines\n",
              static_cast<long long>(deleted.first_version), static_cast<long long>(fresh.version()),
              fresh.state().lines.size());
  const eventstore::AppendResult hard =
      store->delete_stream(stream, true, eventstore::ExpectedVersion::exact(fresh.version()));
  try {
    orders_kept.load(id);
    throw eventstore::Error(eventstore::ErrorCode::kInternal, "a hard-deleted order loaded");
  } catch (const eventstore::Error& e) {
    if (e.code() != eventstore::ErrorCode::kStreamDeleted) throw;
    std::printf("hard delete:        $hard-deleted at version %lld; load: %s\n",
                static_cast<long long>(hard.first_version), std::string(eventstore::to_string(e.code())).c_str());
  }
}

}  // namespace eventstore_cli
