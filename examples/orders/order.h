// The orders example domain: an Order aggregate, its events and its commands.
//
// Events are plain structs that name themselves and convert to JSON; the aggregate is a
// default-constructible struct with one apply() per event; commands check the current state
// and either record events or throw DomainError. Nothing here knows about storage: the
// AggregateStore<Order> of eventstore loads, saves and snapshots it.
//
// Personal data (docs/erasure.md): the customer's e-mail address is personal; its subject is
// the customer id, a pseudonymous UUID. personal_data_rules() says so for the AggregateStore,
// which then stores the address encrypted with the customer's key, and loads "[erased]" in its
// place once the customer is forgotten.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "eventstore/aggregate_store.h"

namespace orders {

// ---- Events -------------------------------------------------------------------------------
struct OrderCreated {
  static constexpr std::string_view event_type = "OrderCreated";
  std::string customer;     // the customer's e-mail address: personal
  std::string customer_id;  // whose it is (empty in orders stored without personal data rules)
};
struct ItemAdded {
  static constexpr std::string_view event_type = "ItemAdded";
  std::string sku;
  std::int64_t quantity = 0;
  std::int64_t unit_price_cents = 0;
};
struct ItemRemoved {
  static constexpr std::string_view event_type = "ItemRemoved";
  std::string sku;
};
struct OrderPaid {
  static constexpr std::string_view event_type = "OrderPaid";
  std::int64_t amount_cents = 0;
};
struct OrderShipped {
  static constexpr std::string_view event_type = "OrderShipped";
  std::string tracking_number;
};
struct OrderCancelled {
  static constexpr std::string_view event_type = "OrderCancelled";
  std::string reason;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(OrderCreated, customer, customer_id)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ItemAdded, sku, quantity, unit_price_cents)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ItemRemoved, sku)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(OrderPaid, amount_cents)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(OrderShipped, tracking_number)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(OrderCancelled, reason)

// ---- The aggregate ------------------------------------------------------------------------
enum class Status { kNew, kOpen, kPaid, kShipped, kCancelled };
NLOHMANN_JSON_SERIALIZE_ENUM(Status, {{Status::kNew, "new"},
                                      {Status::kOpen, "open"},
                                      {Status::kPaid, "paid"},
                                      {Status::kShipped, "shipped"},
                                      {Status::kCancelled, "cancelled"}})

struct Line {
  std::int64_t quantity = 0;
  std::int64_t unit_price_cents = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Line, quantity, unit_price_cents)

struct Order {
  static constexpr std::string_view aggregate_type = "order";
  using Event = std::variant<OrderCreated, ItemAdded, ItemRemoved, OrderPaid, OrderShipped, OrderCancelled>;

  Status status = Status::kNew;
  std::string customer;
  std::string customer_id;
  std::map<std::string, Line> lines;  // by SKU
  std::int64_t paid_cents = 0;
  std::string tracking_number;

  std::int64_t total_cents() const {
    std::int64_t total = 0;
    for (const auto& [sku, line] : lines) total += line.quantity * line.unit_price_cents;
    return total;
  }

  void apply(const OrderCreated& e) {
    status = Status::kOpen;
    customer = e.customer;
    customer_id = e.customer_id;
  }
  void apply(const ItemAdded& e) {
    Line& line = lines[e.sku];
    line.quantity += e.quantity;
    line.unit_price_cents = e.unit_price_cents;
  }
  void apply(const ItemRemoved& e) { lines.erase(e.sku); }
  void apply(const OrderPaid& e) {
    status = Status::kPaid;
    paid_cents = e.amount_cents;
  }
  void apply(const OrderShipped& e) {
    status = Status::kShipped;
    tracking_number = e.tracking_number;
  }
  void apply(const OrderCancelled&) { status = Status::kCancelled; }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Order, status, customer, customer_id, lines, paid_cents,
                                                tracking_number)

// The personal fields of the orders: the e-mail address in OrderCreated and in the snapshot's
// state, both the customer's (AggregateStoreOptions::personal_data, docs/erasure.md).
inline eventstore::PersonalDataRules personal_data_rules() {
  eventstore::PersonalDataRules rules;
  rules.events[std::string(OrderCreated::event_type)] = {"/customer_id", {"/customer"}};
  rules.snapshot = eventstore::PersonalFields{"/customer_id", {"/customer"}};
  return rules;
}

// ---- Commands: validate against the state, then record -----------------------------------
struct DomainError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using OrderAggregate = eventstore::Aggregate<Order>;

inline void require(bool condition, const std::string& message) {
  if (!condition) throw DomainError(message);
}

// `customer` is the e-mail address; `customer_id` the customer's id, needed when the store
// encrypts personal data (personal_data_rules()).
inline void create(OrderAggregate& order, const std::string& customer, const std::string& customer_id = "") {
  require(order.state().status == Status::kNew, "order already exists");
  require(!customer.empty(), "customer must not be empty");
  order.record(OrderCreated{customer, customer_id});
}

inline void add_item(OrderAggregate& order, const std::string& sku, std::int64_t quantity,
                     std::int64_t unit_price_cents) {
  require(order.state().status == Status::kOpen, "items can be added only to an open order");
  require(!sku.empty(), "sku must not be empty");
  require(quantity > 0, "quantity must be > 0");
  require(unit_price_cents >= 0, "price must not be negative");
  order.record(ItemAdded{sku, quantity, unit_price_cents});
}

inline void remove_item(OrderAggregate& order, const std::string& sku) {
  require(order.state().status == Status::kOpen, "items can be removed only from an open order");
  require(order.state().lines.contains(sku), "item " + sku + " is not in the order");
  order.record(ItemRemoved{sku});
}

inline void pay(OrderAggregate& order, std::int64_t amount_cents) {
  require(order.state().status == Status::kOpen, "only an open order can be paid");
  require(!order.state().lines.empty(), "an empty order cannot be paid");
  require(amount_cents == order.state().total_cents(), "payment must equal the order total");
  order.record(OrderPaid{amount_cents});
}

inline void ship(OrderAggregate& order, const std::string& tracking_number) {
  require(order.state().status == Status::kPaid, "only a paid order can be shipped");
  require(!tracking_number.empty(), "tracking number must not be empty");
  order.record(OrderShipped{tracking_number});
}

inline void cancel(OrderAggregate& order, const std::string& reason) {
  const Status s = order.state().status;
  require(s == Status::kOpen || s == Status::kPaid, "only an open or paid order can be cancelled");
  order.record(OrderCancelled{reason});
}

}  // namespace orders
