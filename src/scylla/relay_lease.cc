// Part of ScyllaRelay (scylla_relay.h): the relay's lease (row feed_relay, taken and renewed with
// LWT), and the feed's head it finds at a new term.
#include "scylla/scylla_relay.h"

#include <algorithm>

#include "eventstore/log.h"

namespace eventstore::detail::relay {

// Takes the lease if it is free or expired. Otherwise answers how long to wait before looking
// again: until its expiry, at most one poll interval (a released lease is taken at once).
milliseconds ScyllaRelay::acquire() {
  if (tuning_.ignore_lease) {
    holding_ = true;
    epoch_ = 0;
    return milliseconds(0);
  }
  const Rows rows = run({"SELECT owner, epoch, lease_expires, head, markers_scanned_to FROM " + table("feed_relay") +
                             " WHERE bounded_context = ?",
                         {options_.context}},
                        cql::Consistency::kQuorum);  // waiting relays poll it: no Paxos round
  const Timestamp now = now_ms();
  const Timestamp expires = now + options_.lease;
  const Steady::time_point sent = Steady::now();
  std::optional<std::string> owner;
  std::optional<std::int64_t> epoch;
  std::optional<Timestamp> old_expires;
  hint_head_ = 0;
  hint_scanned_to_.reset();
  if (!rows.empty()) {
    const cql::Row& row = rows[0];
    if (!cql::is_null(row[0])) owner = cql::text(row[0]);
    epoch = cql::optional_int64(row[1]);
    if (!cql::is_null(row[2])) old_expires = cql::timestamp(row[2]);
    hint_head_ = cql::optional_int64(row[3]).value_or(0);
    if (!cql::is_null(row[4])) hint_scanned_to_ = cql::timestamp(row[4]);
    if (old_expires && *old_expires >= now) {
      const milliseconds left = std::chrono::duration_cast<milliseconds>(*old_expires - now) + milliseconds(1);
      return std::min<milliseconds>(left, options_.poll_interval);
    }
  }
  const std::int64_t new_epoch = epoch.value_or(0) + 1;
  Rows answer;
  if (rows.empty()) {
    answer = run({"INSERT INTO " + table("feed_relay") +
                      " (bounded_context, owner, epoch, lease_expires) VALUES (?, ?, ?, ?) IF NOT EXISTS",
                  {options_.context, options_.owner, new_epoch, expires}},
                 cql::Consistency::kQuorum, false);
  } else {
    // Conditioned on everything observed, the expiry included: a renewal in between wins.
    std::string cql =
        "UPDATE " + table("feed_relay") + " SET owner = ?, epoch = ?, lease_expires = ? WHERE bounded_context = ? IF ";
    std::vector<cql::Value> values{options_.owner, new_epoch, expires, options_.context};
    cql += owner ? "owner = ?" : "owner = null";
    if (owner) values.emplace_back(*owner);
    cql += epoch ? " AND epoch = ?" : " AND epoch = null";
    if (epoch) values.emplace_back(*epoch);
    cql += old_expires ? " AND lease_expires = ?" : " AND lease_expires = null";
    if (old_expires) values.emplace_back(*old_expires);
    answer = run({std::move(cql), std::move(values)}, cql::Consistency::kQuorum, false);
  }
  if (!cql::applied(answer)) return milliseconds(0);  // someone else moved first: look again
  holding_ = true;
  epoch_ = new_epoch;
  renewed(sent);
  record(metrics::relay_lease_takeovers_total, 1);
  log(LogLevel::kInfo,
      what() + ": took the lease, epoch " + std::to_string(epoch_) + (owner ? " (from " + *owner + ")" : ""));
  return milliseconds(0);
}

void ScyllaRelay::renewed(Steady::time_point sent) {
  renew_at_ = sent + options_.lease / 3;
  deadline_ = sent + options_.lease - lease_margin_;
}

// Renews the lease when due. Throws LeaseLost when another relay holds it or it lapsed.
void ScyllaRelay::keep_lease() {
  if (tuning_.ignore_lease) return;
  const Steady::time_point now = Steady::now();
  if (now >= deadline_) throw LeaseLost{};
  if (now < renew_at_) return;
  const Rows answer = run(
      {"UPDATE " + table("feed_relay") + " SET lease_expires = ? WHERE bounded_context = ? IF owner = ? AND epoch = ?",
       {now_ms() + options_.lease, options_.context, options_.owner, epoch_}},
      cql::Consistency::kQuorum, false);
  if (!cql::applied(answer)) throw LeaseLost{};
  renewed(now);
}

// Whether the lease still holds by this machine's clock: checked before every feed batch.
void ScyllaRelay::require_lease() {
  if (!holding_) throw LeaseLost{};
  if (tuning_.ignore_lease) return;
  if (Steady::now() >= deadline_) throw LeaseLost{};
  if (Steady::now() >= renew_at_) keep_lease();
}

// After a feed batch whose condition failed: does the lease row still name this relay?
bool ScyllaRelay::lease_still_mine() {
  if (tuning_.ignore_lease) return true;
  const Rows rows =
      run({"SELECT owner, epoch FROM " + table("feed_relay") + " WHERE bounded_context = ?", {options_.context}},
          cql::Consistency::kSerial);
  return !rows.empty() && !cql::is_null(rows[0][0]) && cql::text(rows[0][0]) == options_.owner &&
         cql::optional_int64(rows[0][1]) == epoch_;
}

void ScyllaRelay::lose_lease(const std::string& why) {
  if (!holding_) return;
  holding_ = false;
  try {
    write_progress();  // what this relay did publish (a lower value only costs duplicates)
  } catch (const std::exception&) {
  }
  log(LogLevel::kWarning, what() + ": stopped publishing at epoch " + std::to_string(epoch_) + ": " + why);
  update_stats([](RelayStats& s) { s.holds_lease = false; });
  record(metrics::relay_lease_held, 0);
}

// At stop: records the head, then lets the lease expire at once so that another relay takes
// over without waiting for it.
void ScyllaRelay::release() {
  if (!holding_) return;
  try {
    write_progress();
    write_relay_row(true);
    if (!tuning_.ignore_lease)
      run({"UPDATE " + table("feed_relay") +
               " SET lease_expires = ? WHERE bounded_context = ? IF owner = ? AND epoch = ?",
           {Timestamp{}, options_.context, options_.owner, epoch_}},
          cql::Consistency::kQuorum, false);
    log(LogLevel::kInfo, what() + ": gave up the lease at epoch " + std::to_string(epoch_));
  } catch (const std::exception& e) {
    log(LogLevel::kWarning, what() + ": could not give up the lease (it expires by itself): " + e.what());
  }
  holding_ = false;
  update_stats([](RelayStats& s) { s.holds_lease = false; });
  record(metrics::relay_lease_held, 0);
}

// A new term: nothing cached from an earlier one can be trusted (another relay may have
// published since).
void ScyllaRelay::on_acquired() {
  published_.clear();
  progress_dirty_.clear();
  recent_.clear();
  seen_.clear();
  pending_.clear();
  head_ = discover_head(tuning_.ignore_lease ? 0 : hint_head_);
  const Timestamp now = now_ms();
  const Timestamp oldest = now - std::chrono::seconds(kMarkerTtlSeconds);
  markers_from_ = hint_scanned_to_ ? std::max(*hint_scanned_to_ - tuning_.look_back, oldest)
                                   : now - std::max<milliseconds>(tuning_.look_back, kFirstStartLookBack);
  scanned_to_ = markers_from_;
  next_look_back_ = Steady::now();
  next_reconcile_ = Steady::now();  // at takeover
  reconcile_active_ = false;
  last_row_write_ = {};
  update_stats([&](RelayStats& s) {
    s.holds_lease = true;
    s.epoch = epoch_;
    s.head = head_;
  });
  record(metrics::relay_lease_held, 1);
}

// The feed's last position, by SERIAL reads of bucket heads from `guess` (a position known
// published, so at most the head) up.
std::int64_t ScyllaRelay::discover_head(std::int64_t guess) {
  std::int64_t bucket = std::max<std::int64_t>(guess, 0) / kFeedBucketSize;
  for (;;) {
    const std::optional<std::int64_t> head = bucket_head(bucket);
    if (!head) {
      if (bucket > 0 && guess > bucket * kFeedBucketSize) {
        log(LogLevel::kWarning, what() + ": the recorded head " + std::to_string(guess) +
                                    " is past the feed's end; looking for it from position 0");
        guess = 0;
        bucket = 0;
        continue;
      }
      return bucket * kFeedBucketSize;
    }
    if (*head == (bucket + 1) * kFeedBucketSize) {
      ++bucket;
      continue;
    }
    return *head;
  }
}

std::optional<std::int64_t> ScyllaRelay::bucket_head(std::int64_t bucket) {
  const Rows rows = run({"SELECT head FROM " + table("feed") + " WHERE bounded_context = ? AND bucket = ? LIMIT 1",
                         {options_.context, bucket}},
                        cql::Consistency::kSerial);
  if (rows.empty()) return std::nullopt;
  return cql::optional_int64(rows[0][0]);
}

}  // namespace eventstore::detail::relay
