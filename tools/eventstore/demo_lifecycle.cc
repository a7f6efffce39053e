// The demo's last section: the stream lifecycle (docs/lifecycle.md) on one order.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "order.h"

namespace eventstore_cli {
namespace {

using orders::Order;
using orders::OrderAggregate;

// Its own bounded context, so that the read model of 'demo' keeps every order.
constexpr const char* kLifecycleContext = "demo_lifecycle";

// A retention policy on orders: reads hide at once, a scavenge removes, loads keep working
// because the policy keeps more events than the snapshot interval.
void print_demo_retention(const std::shared_ptr<eventstore::Store>& store,
                          eventstore::AggregateStore<Order>& orders_kept) {
  const eventstore::Uuid id = eventstore::Uuid::random();
  const eventstore::StreamId stream = orders_kept.stream_of(id);
  orders_kept.execute(id, [](OrderAggregate& o) { orders::create(o, "retention@example.com"); });
  for (int i = 1; i <= 12; ++i)
    orders_kept.execute(id, [i](OrderAggregate& o) { orders::add_item(o, "sku-" + std::to_string(i), 1, 100); });
  const OrderAggregate before = orders_kept.load(id);
  eventstore::RetentionPolicy policy;
  policy.max_count = 5;
  eventstore::set_retention_policy(*store, kLifecycleContext, stream.aggregate_type, policy);
  const std::vector<eventstore::RecordedEvent> visible = store->read_all(stream);
  const std::optional<eventstore::ScavengedStream> planned =
      eventstore::scavenge_stream(*store, stream, policy, /*dry_run=*/true, eventstore::now_ms());
  const std::optional<eventstore::ScavengedStream> done =
      eventstore::scavenge_stream(*store, stream, policy, /*dry_run=*/false, eventstore::now_ms());
  const OrderAggregate after = orders_kept.load(id);
  const bool same = nlohmann::json(before.state()) == nlohmann::json(after.state());
  eventstore::set_retention_policy(*store, kLifecycleContext, stream.aggregate_type, {});
  if (visible.empty() || !planned || !done || !same)
    throw eventstore::Error(eventstore::ErrorCode::kInternal, "the retention demo went wrong");
  std::printf(
      "retention:          max_count 5 on '%s': order %s at version %lld reads as versions %lld..%lld at once\n",
      stream.aggregate_type.c_str(), id.to_string().c_str(), static_cast<long long>(before.version()),
      static_cast<long long>(visible.front().version), static_cast<long long>(visible.back().version));
  std::printf(
      "scavenge:           dry run: would remove versions %lld..%lld; then removed them ($truncated at version "
      "%lld); load: state %s; policy cleared\n",
      static_cast<long long>(planned->first_removed), static_cast<long long>(planned->before - 1),
      static_cast<long long>(done->head + 1), same ? "the same as before" : "DIFFERENT (a bug)");
}

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
  print_demo_retention(store, orders_kept);
}

}  // namespace eventstore_cli
