// Part of ScyllaRelay (scylla_relay.h): publication. The markers read, the marked streams read
// above what was published, their new events written as the next positions of the feed.
#include "scylla/scylla_relay.h"

#include <algorithm>
#include <iterator>

#include "eventstore/log.h"

namespace eventstore::detail::relay {

// Reads the markers written since the last read (and every look_back / 4 those of the whole
// look-back), adding new ones to pending_.
void ScyllaRelay::read_markers(bool force_look_back) {
  const Timestamp now = now_ms();
  Timestamp from = markers_from_;
  if (force_look_back || Steady::now() >= next_look_back_) {
    from = std::min(from, now - tuning_.look_back);
    next_look_back_ = Steady::now() + tuning_.look_back / 4;
  }
  const std::int64_t first = marker_bucket(from);
  const std::int64_t last = std::min(marker_bucket(now), first + kMaxBucketsPerCycle - 1);
  const std::string select = "SELECT marker_id, aggregate_type, aggregate_id, first_event_id FROM " +
                             table("feed_markers") +
                             " WHERE bounded_context = ? AND bucket = ? AND shard = ? AND marker_id > ";
  struct Part {
    std::int64_t bucket;
    std::int32_t shard;
  };
  std::vector<Part> parts;
  std::vector<cql::Statement> statements;
  for (std::int64_t bucket = first; bucket <= last; ++bucket)
    for (std::int32_t shard = 0; shard < kMarkerShards; ++shard) {
      parts.push_back({bucket, shard});
      statements.push_back({select + "minTimeuuid(?) LIMIT " + std::to_string(kMarkerPageLimit),
                            {options_.context, bucket, shard, from}});
    }
  std::vector<Rows> results = run_all(std::move(statements), cql::Consistency::kQuorum);
  for (std::size_t i = 0; i < results.size(); ++i) {
    Rows rows = std::move(results[i]);
    for (;;) {
      for (const cql::Row& row : rows) add_marker(row);
      if (rows.size() < static_cast<std::size_t>(kMarkerPageLimit)) break;
      const Uuid after = cql::uuid(rows.back()[0]);
      rows = run({select + "? LIMIT " + std::to_string(kMarkerPageLimit),
                  {options_.context, parts[i].bucket, parts[i].shard, after}});
    }
  }
  if (last == marker_bucket(now)) {
    markers_from_ = std::max(markers_from_, now - std::min<milliseconds>(kFastOverlap, tuning_.look_back));
    scanned_to_ = std::max(scanned_to_, now);
  } else {
    markers_from_ = Timestamp(milliseconds((last + 1) * kMarkerBucketMs));
    scanned_to_ = markers_from_;
  }
  // Ids older than any read can reach again are forgotten.
  const Timestamp forget = std::min(markers_from_, now - tuning_.look_back) - milliseconds(60000);
  for (auto it = seen_.begin(); it != seen_.end();) it = it->second < forget ? seen_.erase(it) : std::next(it);
}

void ScyllaRelay::add_marker(const cql::Row& row) {
  const Uuid id = cql::uuid(row[0]);
  const Timestamp time = timeuuid_time(id);
  if (!seen_.emplace(id, time).second) return;
  Marker marker{id, time, Stream{cql::text(row[1]), cql::uuid(row[2])}, cql::uuid(row[3]), Steady::now()};
  pending_.push_back(std::move(marker));
}

bool ScyllaRelay::has_pending_marker(const Stream& stream) const {
  return std::any_of(pending_.begin(), pending_.end(), [&](const Marker& m) { return m.stream == stream; });
}

// Reads feed_progress for the streams whose published version is not cached.
void ScyllaRelay::load_published(const std::set<Stream>& streams) {
  if (published_.size() > kMaxCachedStreams) {
    write_progress();
    published_.clear();
  }
  std::vector<Stream> unknown;
  std::vector<cql::Statement> statements;
  for (const Stream& stream : streams) {
    if (published_.contains(stream)) continue;
    unknown.push_back(stream);
    statements.push_back({"SELECT published_version FROM " + table("feed_progress") +
                              " WHERE bounded_context = ? AND aggregate_id = ? AND aggregate_type = ?",
                          {options_.context, stream.id, stream.type}});
  }
  const std::vector<Rows> results = run_all(std::move(statements), cql::Consistency::kQuorum);
  for (std::size_t i = 0; i < unknown.size(); ++i) {
    std::int32_t version = 0;
    if (!results[i].empty() && !cql::is_null(results[i][0][0])) version = cql::int32(results[i][0][0]);
    published_[unknown[i]] = version;
  }
}

// The events of `streams` above their published versions. A QUORUM read (after an LWT commit
// it sees a dense prefix of the stream) keeps only the versions right after the published
// one; a SERIAL read (which first completes any Paxos round left half done) is final, and a
// gap in it (only streams of the seed's library have them) is stepped over with a warning.
// A truncated stream starts at its truncated_before (a static column, in every row): the
// versions below it are gone, or going, and are never published (docs/scylla.md, "Lifecycle").
auto ScyllaRelay::read_streams(const std::map<Stream, bool>& streams) -> std::map<Stream, StreamRead> {
  std::set<Stream> keys;
  for (const auto& [stream, serial] : streams) keys.insert(stream);
  load_published(keys);
  std::map<Stream, StreamRead> out;
  for (const bool serial : {false, true}) {
    std::vector<Stream> order;
    std::vector<cql::Statement> statements;
    for (const auto& [stream, is_serial] : streams) {
      if (is_serial != serial) continue;
      order.push_back(stream);
      statements.push_back({"SELECT event_version, event_id, event_type, event_timestamp, truncated_before FROM " +
                                table("event_store") +
                                " WHERE bounded_context = ? AND aggregate_id = ? AND aggregate_type = ? AND "
                                "event_version > ? LIMIT " +
                                std::to_string(kStreamReadLimit),
                            {options_.context, stream.id, stream.type, published_.at(stream)}});
    }
    const std::vector<Rows> results =
        run_all(std::move(statements), serial ? cql::Consistency::kSerial : cql::Consistency::kQuorum);
    for (std::size_t i = 0; i < order.size(); ++i) {
      const Stream& stream = order[i];
      StreamRead& read = out[stream];
      read.more = results[i].size() >= static_cast<std::size_t>(kStreamReadLimit);
      std::int32_t expected = published_.at(stream) + 1;
      for (const cql::Row& row : results[i]) {
        const std::int32_t version = cql::int32(row[0]);
        const std::int32_t before = cql::optional_int32(row[4]).value_or(1);
        if (expected < before) {
          // Nothing below it will ever be published: the next reads start there.
          expected = before;
          published_[stream] = before - 1;
          progress_dirty_.insert(stream);
        }
        if (version < before) continue;
        if (version != expected) {
          if (!serial) {
            read.more = false;
            break;
          }
          log(LogLevel::kWarning, what() + ": stream " + stream.type + "/" + stream.id.to_string() +
                                      " has no event at versions " + std::to_string(expected) + ".." +
                                      std::to_string(version - 1) + "; publishing from version " +
                                      std::to_string(version));
        }
        Entry entry;
        entry.stream = stream;
        entry.version = version;
        entry.event_id = cql::uuid(row[1]);
        if (!cql::is_null(row[2])) entry.event_type = cql::text(row[2]);
        if (!cql::is_null(row[3])) entry.timestamp = cql::timestamp(row[3]);
        read.entries.push_back(std::move(entry));
        expected = version + 1;
      }
    }
  }
  return out;
}

// Writes `entries` as the next positions of the feed. Throws LeaseLost (nothing more is
// published) or the error of a batch (the entries not yet published stay unpublished: their
// markers stay pending).
void ScyllaRelay::publish(const std::vector<Entry>& entries, bool repair) {
  // For the commit-to-feed time: the marker of each append, by its first event.
  std::unordered_map<Uuid, Timestamp> marked;
  if (connection_->metrics && !repair && !entries.empty())
    for (const Marker& marker : pending_) marked.emplace(marker.first_event_id, marker.time);
  std::size_t next = 0;
  while (next < entries.size()) {
    require_lease();
    const std::int64_t bucket = head_ / kFeedBucketSize;
    const std::int64_t room = (bucket + 1) * kFeedBucketSize - head_;
    const std::size_t count = std::min({static_cast<std::size_t>(room), kMaxBatchEntries, entries.size() - next});
    const std::int64_t new_head = head_ + static_cast<std::int64_t>(count);
    std::vector<cql::Statement> statements;
    statements.reserve(count + 1);
    if (head_ == bucket * kFeedBucketSize) {
      statements.push_back(
          {"UPDATE " + table("feed") + " SET head = ? WHERE bounded_context = ? AND bucket = ? IF head = null",
           {new_head, options_.context, bucket}});
    } else {
      statements.push_back(
          {"UPDATE " + table("feed") + " SET head = ? WHERE bounded_context = ? AND bucket = ? IF head = ?",
           {new_head, options_.context, bucket, head_}});
    }
    const std::string insert = "INSERT INTO " + table("feed") +
                               " (bounded_context, bucket, position, aggregate_type, aggregate_id, event_version, "
                               "event_id, event_type, event_timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
    for (std::size_t i = 0; i < count; ++i) {
      const Entry& e = entries[next + i];
      statements.push_back({insert,
                            {options_.context, bucket, head_ + 1 + static_cast<std::int64_t>(i), e.stream.type,
                             e.stream.id, e.version, e.event_id, e.event_type, e.timestamp}});
    }
    bool done = false;
    try {
      done =
          cql::applied(cql::batch(connection_, std::move(statements), cql::Options{cql::Consistency::kQuorum, false}));
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kOutcomeUnknown) throw;
      done = resolve_unknown_batch(bucket, entries[next].event_id);
    }
    if (!done) {
      // Another relay wrote at these positions (or the batch was not applied).
      if (!lease_still_mine()) throw LeaseLost{};
      head_ = discover_head(head_);
      update_stats([&](RelayStats& s) { s.head = head_; });
      continue;
    }
    const Timestamp now = now_ms();
    for (std::size_t i = 0; i < count; ++i) {
      const Entry& e = entries[next + i];
      std::int32_t& published = published_[e.stream];
      published = std::max(published, e.version);
      progress_dirty_.insert(e.stream);
      recent_[e.event_id] = now;
      if (const auto marker = marked.find(e.event_id); marker != marked.end())
        record(metrics::relay_commit_to_feed_seconds,
               std::max(std::chrono::duration<double>(now - marker->second).count(), 0.0));
    }
    record(metrics::relay_published_entries_total, static_cast<double>(count));
    if (repair) record(metrics::relay_repairs_total, static_cast<double>(count));
    head_ = new_head;
    next += count;
    update_stats([&](RelayStats& s) {
      s.head = head_;
      s.events_published += count;
      if (repair) s.repairs += count;
    });
  }
}

// A batch at head_ + 1 whose outcome is unknown: a SERIAL read (which completes or
// supersedes its Paxos round) of the position it took decides.
bool ScyllaRelay::resolve_unknown_batch(std::int64_t bucket, const Uuid& first_event_id) {
  const Rows rows =
      run({"SELECT event_id FROM " + table("feed") + " WHERE bounded_context = ? AND bucket = ? AND position = ?",
           {options_.context, bucket, head_ + 1}},
          cql::Consistency::kSerial);
  return !rows.empty() && !cql::is_null(rows[0][0]) && cql::uuid(rows[0][0]) == first_event_id;
}

// Records the published versions in feed_progress: at once when `now`, otherwise at most
// every kProgressEvery (a relay that dies in between leaves the next one to publish those
// versions again: duplicates, never a hole).
void ScyllaRelay::write_progress(bool now) {
  if (progress_dirty_.empty()) return;
  if (!now && Steady::now() - last_progress_write_ < kProgressEvery) return;
  last_progress_write_ = Steady::now();
  std::vector<Stream> streams(progress_dirty_.begin(), progress_dirty_.end());
  std::vector<cql::Statement> statements;
  for (const Stream& stream : streams)
    statements.push_back({"UPDATE " + table("feed_progress") +
                              " SET published_version = ? WHERE bounded_context = ? AND aggregate_id = ? AND "
                              "aggregate_type = ?",
                          {published_.at(stream), options_.context, stream.id, stream.type}});
  run_all(std::move(statements), cql::Consistency::kQuorum);
  progress_dirty_.clear();
}

// The head and how far markers were read, for the next relay and for feed_status (readers
// find the head from it by probing forward, so it may lag): at most every kRelayRowEvery.
void ScyllaRelay::write_relay_row(bool force) {
  if (!holding_ || tuning_.ignore_lease) return;
  const Steady::time_point now = Steady::now();
  if (!force && now - last_row_write_ < kRelayRowEvery) return;
  run({"UPDATE " + table("feed_relay") + " SET head = ?, markers_scanned_to = ? WHERE bounded_context = ?",
       {head_, scanned_to_, options_.context}});
  last_row_write_ = now;
}

}  // namespace eventstore::detail::relay
