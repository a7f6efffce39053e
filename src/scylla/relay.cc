// The relay of a cluster's feed (relay.h): its start, its loop and one cycle. What the relay is
// and how it keeps the feed dense and unforked: scylla_relay.h.
#include "scylla/relay.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <random>

#include "core/validation.h"
#include "eventstore/log.h"
#include "scylla/scylla_relay.h"

namespace eventstore::detail {
namespace relay {
namespace {

std::string default_owner() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown-host");
  std::random_device device;
  char random[9];
  std::snprintf(random, sizeof random, "%08x", static_cast<unsigned>(device()));
  return std::string(host) + ":" + std::to_string(::getpid()) + ":" + random;
}

void validate(const RelayOptions& options) {
  if (auto error = validation_error([&] { validate_context(options.context, Limits{}); }))
    throw Error::invalid(std::string("relay: ") + error->what());
  if (options.lease < milliseconds(300) || options.lease > milliseconds(3600 * 1000))
    throw Error::invalid("relay: lease must be 300 ms..1 h, got " + std::to_string(options.lease.count()) + " ms");
  if (options.poll_interval < milliseconds(1) || options.poll_interval > milliseconds(60000) ||
      options.poll_interval >= options.lease / 3)
    throw Error::invalid("relay: poll interval must be 1 ms..60 s and below lease / 3, got " +
                         std::to_string(options.poll_interval.count()) + " ms");
  if (options.reconcile_interval < milliseconds(100) || options.reconcile_interval > milliseconds(7LL * 86400 * 1000))
    throw Error::invalid("relay: reconcile interval must be 100 ms..7 days, got " +
                         std::to_string(options.reconcile_interval.count()) + " ms");
}

}  // namespace

ScyllaRelay::ScyllaRelay(std::shared_ptr<Connection> connection, std::string keyspace, RelayOptions options,
                         RelayTuning tuning)
    : connection_(std::move(connection)),
      keyspace_(std::move(keyspace)),
      options_(std::move(options)),
      tuning_(tuning) {
  if (options_.owner.empty()) options_.owner = default_owner();
  lease_margin_ = std::min<milliseconds>(options_.lease / 4, milliseconds(2000));
  thread_ = std::thread([this] { run(); });
}

std::vector<Rows> ScyllaRelay::run_all(std::vector<cql::Statement> statements, cql::Consistency consistency) {
  struct Shared {
    std::mutex mutex;
    std::condition_variable changed;
    std::size_t in_flight = 0;
    std::vector<std::optional<Result<Rows>>> results;
  };
  auto shared = std::make_shared<Shared>();
  shared->results.resize(statements.size());
  for (std::size_t i = 0; i < statements.size(); ++i) {
    {
      std::unique_lock lock(shared->mutex);
      shared->changed.wait(lock, [&] { return shared->in_flight < kMaxInFlight; });
      ++shared->in_flight;
    }
    cql::execute(connection_, std::move(statements[i]), cql::Options{consistency, true},
                 [shared, i](Result<Rows> result) {
                   std::lock_guard lock(shared->mutex);
                   shared->results[i].emplace(std::move(result));
                   --shared->in_flight;
                   shared->changed.notify_all();
                 });
  }
  std::unique_lock lock(shared->mutex);
  shared->changed.wait(lock, [&] { return shared->in_flight == 0; });
  std::vector<Rows> out;
  out.reserve(shared->results.size());
  for (auto& result : shared->results) {
    if (!result->ok()) throw result->error();
    out.push_back(std::move(*result).value());
  }
  return out;
}

void ScyllaRelay::run() {
  int failures = 0;
  while (!stopping()) {
    try {
      if (!holding_) {
        const milliseconds wait = acquire();
        if (!holding_) {
          sleep(wait);
          continue;
        }
        new_term_ = true;
      }
      if (new_term_) {
        on_acquired();
        new_term_ = false;
      }
      keep_lease();
      bool busy = cycle(false);
      busy = reconcile_step() || busy;
      write_relay_row(false);
      update_stats([&](RelayStats& s) {
        ++s.cycles;
        s.last_error.clear();
      });
      failures = 0;
      if (!busy) sleep(options_.poll_interval);
    } catch (const LeaseLost&) {
      lose_lease("another relay holds the lease, or it could not be renewed in time");
    } catch (const std::exception& e) {
      const std::string message = e.what();
      update_stats([&](RelayStats& s) { s.last_error = message; });
      log(LogLevel::kWarning, what() + ": " + message);
      failures = std::min(failures + 1, 10);
      sleep(std::min<milliseconds>(options_.poll_interval * (1 << failures), kMaxBackoff));
    }
  }
  release();
}

// New markers; the streams of the markers due for a look; their new events published; the
// markers whose appends are published (or settled) dropped. True if it published anything.
bool ScyllaRelay::cycle(bool force) {
  read_markers(force);
  const Steady::time_point now = Steady::now();
  const Timestamp wall = now_ms();
  std::map<Stream, bool> streams;  // serial?
  for (const Marker& marker : pending_) {
    if (!force && marker.next_check > now) continue;
    const bool settle = wall - marker.time > tuning_.settle_window;
    streams[marker.stream] = streams[marker.stream] || settle;
  }
  if (streams.empty()) {
    write_progress(false);
    report_lag();
    return false;
  }
  std::map<Stream, StreamRead> reads = read_streams(streams);
  std::vector<Entry> entries;
  for (auto& [stream, read] : reads)
    for (Entry& entry : read.entries) entries.push_back(std::move(entry));
  publish(entries, false);
  write_progress(false);
  // Markers: published, settled, or looked at again later (sooner if their stream has more).
  const Timestamp forget = wall - tuning_.settle_window - tuning_.look_back - milliseconds(60000);
  for (auto it = recent_.begin(); it != recent_.end();) it = it->second < forget ? recent_.erase(it) : std::next(it);
  for (auto it = pending_.begin(); it != pending_.end();) {
    const auto read = streams.find(it->stream);
    if (read == streams.end() || (!force && it->next_check > now)) {
      ++it;
      continue;
    }
    if (recent_.contains(it->first_event_id)) {
      it = pending_.erase(it);
      continue;
    }
    if (reads[it->stream].more) {  // the read stopped at its limit: read on at once
      it->next_check = now;
      ++it;
      continue;
    }
    if (read->second) {
      // Settled: its stream was read at SERIAL and everything there is published. An append
      // that commits even later is found by reconciliation.
      it = pending_.erase(it);
      continue;
    }
    // An append commits within milliseconds of its marker, or within a request timeout when
    // it is slow: looked at again after a quarter of the marker's age (at least one poll
    // interval, at most kMaxBackoff).
    const milliseconds age = std::chrono::duration_cast<milliseconds>(wall - it->time);
    it->next_check = now + std::clamp<milliseconds>(age / 4, options_.poll_interval, kMaxBackoff);
    ++it;
  }
  report_lag();
  return !entries.empty();
}

// The age of the oldest marker still pending, a refused append's included until it is settled.
void ScyllaRelay::report_lag() const {
  if (!connection_->metrics) return;
  std::optional<Timestamp> oldest;
  for (const Marker& marker : pending_)
    if (!oldest || marker.time < *oldest) oldest = marker.time;
  const double lag = oldest ? std::chrono::duration<double>(now_ms() - *oldest).count() : 0.0;
  record(metrics::relay_lag_seconds, std::max(lag, 0.0));
}

}  // namespace relay

std::unique_ptr<FeedRelay> start_scylla_relay(std::shared_ptr<Connection> connection, std::string keyspace,
                                              const RelayOptions& options, const RelayTuning& tuning) {
  relay::validate(options);
  return std::make_unique<relay::ScyllaRelay>(std::move(connection), std::move(keyspace), options, tuning);
}

}  // namespace eventstore::detail
