// Subscription: reads a bounded context's feed from a starting point, page by page, then follows
// it live, with no gap and no duplicate at the switch (both are the same paged read of the feed:
// at the head a page is simply empty until something is published). Pull-based: nothing is read
// until the consumer asks, so a slow consumer holds one page of memory and loses nothing.
//
// The consumer moves the named checkpoint (save_checkpoint) after it has applied a page; a
// consumer restarted with the same name resumes after the checkpoint. Delivery is therefore
// at-least-once: the pages after the last saved checkpoint are delivered again after a crash
// (and a cluster may repeat an event, see feed.h). SqliteProjection below makes it exactly-once
// for a read model kept in SQLite.
//
// Thread safety: a Subscription is used by one consumer; one page request at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "eventstore/export.h"
#include "eventstore/feed.h"
#include "eventstore/metrics.h"
#include "eventstore/result.h"
#include "eventstore/store.h"

struct sqlite3;

namespace eventstore {

// Where a subscription starts when it has no stored checkpoint.
struct EVENTSTORE_EXPORT StartPosition {
  enum class Kind { kBeginning, kEnd, kAfter };
  Kind kind = Kind::kBeginning;
  std::int64_t position = 0;  // kAfter: deliver entries above this position

  static StartPosition beginning() { return {}; }
  static StartPosition end() { return {Kind::kEnd, 0}; }
  static StartPosition after(std::int64_t position) { return {Kind::kAfter, position}; }
};

struct EVENTSTORE_EXPORT SubscriptionOptions {
  std::string context;
  // The durable checkpoint's name. Empty: none (start from `start`; save_checkpoint fails).
  std::string name;
  // Used when `name` is empty or has no checkpoint yet.
  StartPosition start;
  FeedFilter filter;
  std::uint32_t page_size = 1000;  // positions per page, 1..100000
  bool with_data = true;
  // While waiting for new entries at the head, the feed is polled this often.
  std::chrono::milliseconds poll_interval{10};
};

class EVENTSTORE_EXPORT Subscription {
 public:
  // Resolves the starting position (the named checkpoint, else `start`; kEnd reads the feed's
  // head) and returns the subscription. Throws eventstore::Error (kInvalidArgument for bad
  // options, and the store's errors).
  static std::unique_ptr<Subscription> open(std::shared_ptr<Store> store, SubscriptionOptions options);

  virtual ~Subscription() = default;

  using PageCallback = std::function<void(Result<FeedPage>)>;
  // The next page after position(): as soon as it covers at least one position, or an empty
  // page after `max_wait` (zero: do not wait). Delivering a page moves position() to its
  // last_position. On error position() stays; the next call retries from there.
  virtual void next_page_async(std::chrono::milliseconds max_wait, PageCallback callback) = 0;
  // Blocking form. Throws eventstore::Error.
  FeedPage next_page(std::chrono::milliseconds max_wait = std::chrono::milliseconds{0});

  // The last position delivered (the starting position before the first page).
  virtual std::int64_t position() const = 0;

  // Stores position() as the named checkpoint (forward only) and answers the stored position.
  // Throws Error(kInvalidArgument) for a subscription without a name.
  virtual std::int64_t save_checkpoint() = 0;

  // The consumer's handler failed on what was delivered since the last checkpoint: counted
  // (eventstore_subscription_handler_failures_total, for a named subscription of a store with a
  // metrics sink), and position() goes back to the last checkpoint this subscription saved (the
  // starting position before its first save; never forward), so that the next page delivers
  // those entries again (counted as duplicates). Throws Error(kInvalidArgument) while a page
  // request is under way.
  virtual void handler_failed() = 0;
};

// An exactly-once projection into a SQLite read model: applies a page's entries and stores the
// projection's position in the same transaction of the user's database, in the table
// eventstore_projections(name TEXT PRIMARY KEY, position INTEGER NOT NULL) that it creates.
// After a crash the read model and its position agree, so nothing is applied twice or skipped;
// a repeated event (same stream and version, see feed.h) is skipped too.
//
// Thread safety: one thread at a time; `db` must not be used by others during apply().
class EVENTSTORE_EXPORT SqliteProjection {
 public:
  // `db` stays owned by the caller and must outlive the projection; give it a busy timeout
  // (sqlite3_busy_timeout) when other processes use the same file. Throws Error.
  SqliteProjection(sqlite3* db, std::string name);
  // The same, reporting into `metrics` (may be null) with the labels context (of the entries) and
  // subscription (`name`): the entries skipped as applied before
  // (eventstore_subscription_duplicates_total) and each apply() whose `apply` threw
  // (eventstore_subscription_handler_failures_total).
  SqliteProjection(sqlite3* db, std::string name, std::shared_ptr<MetricsSink> metrics);

  // The position stored with the read model (0 before the first page): start the subscription
  // with StartPosition::after(position()) and no name.
  std::int64_t position() const;

  // In one transaction: `apply` for each entry of `page` not applied before, then the position
  // moves to page.last_position. If `apply` throws, the transaction rolls back and the exception
  // propagates. Throws Error(kInternal) for SQLite failures.
  void apply(const FeedPage& page, const std::function<void(sqlite3* db, const FeedEntry& entry)>& apply);

 private:
  sqlite3* db_;
  std::string name_;
  std::int64_t position_ = 0;
  std::shared_ptr<MetricsSink> metrics_;
};

}  // namespace eventstore
