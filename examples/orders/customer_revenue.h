// A read model of the orders example: order counts and revenue per customer, kept in a SQLite
// file of its own and fed from the bounded context's feed (eventstore/feed.h, subscription.h).
//
// Exactly once: SqliteProjection applies a page of the feed and stores the projection's
// position in one transaction of this database. After a crash the rows and the position agree,
// and the subscription resumes after that position, so no event is applied twice or skipped.
// To rebuild the read model, delete its file: it catches up from position 0.
//
// Personal data (docs/erasure.md): given the store's PersonalData, the read model decrypts the
// e-mail addresses of the feed's events; a forgotten customer's are "[erased]". The rows it wrote
// before a customer was forgotten still hold the address: a read model keeps its own copy, and
// erasing a customer means deleting its rows too (or rebuilding the read model).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "eventstore/personal_data.h"
#include "eventstore/store.h"
#include "eventstore/subscription.h"
#include "order.h"

namespace orders {

struct CustomerTotals {
  std::string customer;
  std::int64_t orders = 0;         // orders created
  std::int64_t cancelled = 0;      // of which cancelled
  std::int64_t revenue_cents = 0;  // payments, less those of orders cancelled after payment
};

class CustomerRevenue {
 public:
  // Opens (or creates) the read model in the SQLite file `path`; ":memory:" keeps it in memory.
  // With `personal_data`, the events' personal fields are decrypted before they are applied.
  explicit CustomerRevenue(const std::string& path, std::shared_ptr<const eventstore::PersonalData> personal_data = {})
      : db_(open(path)), projection_(db_.get(), "customer_revenue"), personal_data_(std::move(personal_data)) {
    sql(R"(CREATE TABLE IF NOT EXISTS customers (customer TEXT PRIMARY KEY, orders INTEGER NOT NULL,
             cancelled INTEGER NOT NULL, revenue_cents INTEGER NOT NULL))");
    sql("CREATE TABLE IF NOT EXISTS orders (order_id TEXT PRIMARY KEY, customer TEXT NOT NULL, paid_cents INTEGER NOT NULL)");
  }

  // The last feed position applied (0 for a new read model).
  std::int64_t position() const { return projection_.position(); }

  // A subscription to `context`'s feed that continues where this read model left off. It has no
  // name: the position that counts is the one stored with the rows, not a checkpoint in the store.
  std::unique_ptr<eventstore::Subscription> subscribe(std::shared_ptr<eventstore::Store> store,
                                                      const std::string& context) const {
    const std::int64_t head = store->feed_head(context);
    if (position() > head)
      throw std::runtime_error("the read model is at position " + std::to_string(position()) +
                               ", past the feed's head " + std::to_string(head) +
                               ": it was built from another store (delete it to rebuild)");
    eventstore::SubscriptionOptions options;
    options.context = context;
    options.start = eventstore::StartPosition::after(position());
    return eventstore::Subscription::open(std::move(store), options);
  }

  // Applies the entries of `page` not applied before and moves the position to the page's end,
  // in one transaction. Returns how many entries were applied.
  std::size_t apply(const eventstore::FeedPage& page) {
    if (page.last_position <= position()) return 0;  // nothing new: no transaction
    std::size_t applied = 0;
    projection_.apply(page, [&](sqlite3*, const eventstore::FeedEntry& entry) {
      apply_event(entry.event);
      ++applied;
    });
    return applied;
  }

  // Every customer, highest revenue first.
  std::vector<CustomerTotals> customers() const {
    std::vector<CustomerTotals> result;
    sql("SELECT customer, orders, cancelled, revenue_cents FROM customers ORDER BY revenue_cents DESC, customer", {},
        [&](sqlite3_stmt* row) {
          result.push_back({reinterpret_cast<const char*>(sqlite3_column_text(row, 0)), sqlite3_column_int64(row, 1),
                            sqlite3_column_int64(row, 2), sqlite3_column_int64(row, 3)});
        });
    return result;
  }

 private:
  // One event's change to the rows, inside the projection's transaction.
  void apply_event(const eventstore::RecordedEvent& event) {
    if (event.stream.aggregate_type != Order::aggregate_type || !event.data) return;
    const std::string order_id = event.stream.aggregate_id.to_string();
    const nlohmann::json data = nlohmann::json::parse(
        personal_data_ ? personal_data_->session().reveal_event(event.event_type, *event.data) : *event.data);
    if (event.event_type == OrderCreated::event_type) {
      const auto created = data.get<OrderCreated>();
      sql("INSERT INTO orders VALUES (?1, ?2, 0)", {order_id, created.customer});
      sql(R"(INSERT INTO customers VALUES (?1, 1, 0, 0)
             ON CONFLICT (customer) DO UPDATE SET orders = orders + 1)",
          {created.customer});
    } else if (event.event_type == OrderPaid::event_type) {
      const auto paid = data.get<OrderPaid>();
      sql("UPDATE orders SET paid_cents = ?2 WHERE order_id = ?1", {order_id, paid.amount_cents});
      sql(R"(UPDATE customers SET revenue_cents = revenue_cents + ?2
             WHERE customer = (SELECT customer FROM orders WHERE order_id = ?1))",
          {order_id, paid.amount_cents});
    } else if (event.event_type == OrderCancelled::event_type) {  // refunds a payment
      sql(R"(UPDATE customers SET cancelled = cancelled + 1,
               revenue_cents = revenue_cents - (SELECT paid_cents FROM orders WHERE order_id = ?1)
             WHERE customer = (SELECT customer FROM orders WHERE order_id = ?1))",
          {order_id});
      sql("UPDATE orders SET paid_cents = 0 WHERE order_id = ?1", {order_id});
    }
  }

  struct Close {
    void operator()(sqlite3* db) const { sqlite3_close(db); }
  };
  using Param = std::variant<std::int64_t, std::string>;

  static std::unique_ptr<sqlite3, Close> open(const std::string& path) {
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    std::unique_ptr<sqlite3, Close> owned(db);
    if (rc != SQLITE_OK) throw std::runtime_error(path + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
    // Another process on the file (a second demo, a query, one being killed) holds its lock for
    // moments: wait for it instead of failing with "database is locked".
    sqlite3_busy_timeout(db, 5000);
    return owned;
  }

  // Runs one statement with its parameters (?1, ?2, ...), calling `row` for each result row.
  void sql(const char* text, const std::vector<Param>& params = {},
           const std::function<void(sqlite3_stmt*)>& row = {}) const {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_.get(), text, -1, &raw, nullptr) != SQLITE_OK) fail();
    const std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> statement(raw, sqlite3_finalize);
    int index = 0;
    for (const Param& param : params) {
      ++index;
      if (const auto* number = std::get_if<std::int64_t>(&param)) sqlite3_bind_int64(raw, index, *number);
      else  // no destructor (SQLITE_STATIC): the text outlives the statement
        sqlite3_bind_text(raw, index, std::get<std::string>(param).c_str(), -1, nullptr);
    }
    int rc;
    while ((rc = sqlite3_step(raw)) == SQLITE_ROW)
      if (row) row(raw);
    if (rc != SQLITE_DONE) fail();
  }
  [[noreturn]] void fail() const { throw std::runtime_error(std::string("read model: ") + sqlite3_errmsg(db_.get())); }

  std::unique_ptr<sqlite3, Close> db_;  // before projection_, which uses it
  eventstore::SqliteProjection projection_;
  std::shared_ptr<const eventstore::PersonalData> personal_data_;
};

// Where a store's read model lives by default: next to a sqlite: store (orders.db ->
// orders_read_model.db); in memory for the other stores (it catches up at every start).
inline std::string default_read_model_path(std::string_view store_uri) {
  if (!store_uri.starts_with("sqlite:")) return ":memory:";
  std::string path(store_uri.substr(7, store_uri.find('?') - 7));
  if (path.starts_with("//")) path.erase(0, 2);
  if (path.ends_with(".db")) path.resize(path.size() - 3);
  return path + "_read_model.db";
}

}  // namespace orders
