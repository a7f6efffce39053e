// Part of ScyllaRelay (scylla_relay.h): reconciliation, a token-range scan of the streams' heads
// that publishes what no marker announced.
#include "scylla/scylla_relay.h"

#include <limits>

#include "eventstore/log.h"

namespace eventstore::detail::relay {

// One page of the scan of the streams' heads (a token range of event_store), publishing what
// the relay has not published for streams of its context without a pending marker. True
// while the scan is under way.
bool ScyllaRelay::reconcile_step() {
  if (!reconcile_active_) {
    if (Steady::now() < next_reconcile_) return false;
    reconcile_active_ = true;
    reconcile_token_ = std::numeric_limits<std::int64_t>::min();
  }
  const std::string columns =
      "SELECT DISTINCT token(bounded_context, aggregate_id, aggregate_type), bounded_context, aggregate_id, "
      "aggregate_type, stream_version FROM " +
      table("event_store") + " WHERE token(bounded_context, aggregate_id, aggregate_type) ";
  Rows rows = run({columns + "> ? LIMIT " + std::to_string(kScanPageLimit), {reconcile_token_}});
  const bool full = rows.size() >= static_cast<std::size_t>(kScanPageLimit);
  if (full) {
    // Partitions that share the page's last token (a hash collision) must not be skipped.
    const std::int64_t last = cql::int64(rows.back()[0]);
    for (cql::Row& row : run({columns + "= ?", {last}})) rows.push_back(std::move(row));
  }
  std::map<Stream, std::optional<std::int32_t>> heads;
  for (const cql::Row& row : rows) {
    if (cql::text(row[1]) != options_.context) continue;
    std::optional<std::int32_t> head;
    if (!cql::is_null(row[4])) head = cql::int32(row[4]);
    heads[Stream{cql::text(row[3]), cql::uuid(row[2])}] = head;
  }
  if (full) {
    reconcile_token_ = cql::int64(rows[static_cast<std::size_t>(kScanPageLimit) - 1][0]);
  } else {
    reconcile_active_ = false;
    next_reconcile_ = Steady::now() + options_.reconcile_interval;
  }
  if (heads.empty()) return reconcile_active_;
  // Streams of the seed's library have no stream_version: their head is the last event.
  std::vector<Stream> without;
  std::vector<cql::Statement> statements;
  for (const auto& [stream, head] : heads) {
    if (head) continue;
    without.push_back(stream);
    statements.push_back({"SELECT event_version FROM " + table("event_store") +
                              " WHERE bounded_context = ? AND aggregate_id = ? AND aggregate_type = ? ORDER BY "
                              "event_version DESC LIMIT 1",
                          {options_.context, stream.id, stream.type}});
  }
  const std::vector<Rows> last_versions = run_all(std::move(statements), cql::Consistency::kQuorum);
  for (std::size_t i = 0; i < without.size(); ++i)
    heads[without[i]] = last_versions[i].empty() ? 0 : cql::int32(last_versions[i][0][0]);
  std::set<Stream> keys;
  for (const auto& [stream, head] : heads) keys.insert(stream);
  load_published(keys);
  auto behind = [&] {
    std::map<Stream, bool> out;
    for (const auto& [stream, head] : heads)
      if (*head > published_.at(stream) && !has_pending_marker(stream)) out[stream] = true;
    return out;
  };
  if (behind().empty()) return reconcile_active_;
  // An append that just committed has its marker written: read the markers of the whole
  // look-back and look at every pending one first, so that only events no marker announced
  // count as repairs.
  cycle(true);
  load_published(keys);
  for (std::map<Stream, bool> streams = behind(); !streams.empty();) {
    std::map<Stream, StreamRead> reads = read_streams(streams);
    std::vector<Entry> entries;
    std::map<Stream, bool> more;
    for (auto& [stream, read] : reads) {
      if (!read.entries.empty())
        log(LogLevel::kWarning, what() + ": reconciliation publishes " + std::to_string(read.entries.size()) +
                                    " event(s) of " + stream.type + "/" + stream.id.to_string() + " from version " +
                                    std::to_string(read.entries.front().version) + " that no marker announced");
      for (Entry& entry : read.entries) entries.push_back(std::move(entry));
      if (read.more) more[stream] = true;
    }
    publish(entries, true);
    write_progress();
    streams = std::move(more);
  }
  return reconcile_active_;
}

}  // namespace eventstore::detail::relay
