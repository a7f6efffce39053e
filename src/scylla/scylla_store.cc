// The scylla:// backend: the Store that wires the session, the schema, appends
// (append_operation.h), reads (scylla_cursor.h), snapshots, the feed's markers and relays.
#include "scylla/scylla_store.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <deque>
#include <functional>
#include <limits>
#include <optional>
#include <string_view>
#include <utility>

#include "core/blocking.h"
#include "core/lifecycle.h"
#include "core/validation.h"
#include "eventstore/log.h"
#include "eventstore_scylla_bridge/src/lib.rs.h"
#include "scylla/append_operation.h"
#include "scylla/completions.h"
#include "scylla/connection.h"
#include "scylla/feed_checkpoints.h"
#include "scylla/feed_markers.h"
#include "scylla/feed_reader.h"
#include "scylla/host_metrics.h"
#include "scylla/relay.h"
#include "scylla/rows.h"
#include "scylla/scylla_cursor.h"
#include "scylla/session_config.h"
#include "scylla/snapshots.h"

namespace eventstore::detail {
namespace {

class ScyllaStore final : public Store {
 public:
  ScyllaStore(std::shared_ptr<Connection> connection, std::string description, FeedSettings feed)
      : connection_(std::move(connection)),
        description_(std::move(description)),
        feed_(std::make_shared<const FeedSettings>(std::move(feed))),
        markers_(feed_->markers ? std::make_shared<MarkerWriter>(connection_) : nullptr),
        host_metrics_(connection_->metrics ? std::make_unique<HostMetricsReporter>(connection_, connection_->metrics)
                                           : nullptr) {}

  // The relays of the URI's relay= option stop (and give up their leases) before the session
  // they use can go.
  ~ScyllaStore() override {
    relays_.clear();
    host_metrics_.reset();
  }

  // The relays of relay=CONTEXT,...: one per context, running for the store's lifetime.
  void start_uri_relays() {
    for (const std::string& context : feed_->relay_contexts) {
      RelayOptions options;
      options.context = context;
      relays_.push_back(start_relay(options));
    }
  }

  std::unique_ptr<FeedRelay> start_relay(const RelayOptions& options) override {
    return start_scylla_relay(connection_, connection_->keyspace, options, RelayTuning::from(*feed_));
  }

  std::string describe() const override { return description_; }

  const bridge::Session& session() const { return *connection_->session; }
  const std::shared_ptr<Connection>& connection() const { return connection_; }

  // One CQL statement, unprepared, waiting for schema agreement after DDL. Throws Error.
  void execute(const std::string& cql) {
    if (auto refused = try_execute(cql)) throw refused->error;
  }

  // A statement the server refused: the error, and the server's own error behind it.
  struct Refusal {
    Error error;
    bridge::ServerError server_error;
  };

  // As execute, but returns the refusal instead of throwing it.
  std::optional<Refusal> try_execute(const std::string& cql) {
    return wait_for<std::optional<Refusal>>([&](auto finished) {
      connection_->session->execute_schema(
          cql, done<VoidDone>([finished]() { finished(std::optional<Refusal>()); },
                              [finished](const bridge::BridgeError& e) {
                                finished(std::optional<Refusal>(Refusal{to_error(e, "schema"), e.server_error}));
                              }));
    });
  }

  void apply_schema(const SchemaOptions& options) override {
    const std::vector<std::string> statements = scylla_schema_ddl(connection_->keyspace, options);
    // ScyllaDB with tablets had no LWT through 2025.3: create the keyspace with vnodes there.
    // Cassandra does not know the option and refuses it as a syntax error ("Unknown property
    // 'tablets'", Cassandra 5.0); then the plain statement runs.
    if (auto refused = try_execute(statements[0] + " AND tablets = {'enabled': false}")) {
      if (refused->server_error != bridge::ServerError::SyntaxError &&
          refused->server_error != bridge::ServerError::ConfigError)
        throw refused->error;
      execute(statements[0]);
    }
    execute(statements[1]);
    // Refused as invalid when the column is there already (created by statements[1], or added
    // before): the only invalid thing about these fixed statements on the table just created.
    for (const std::string& alter : scylla_adopt_statements(connection_->keyspace))
      if (auto refused = try_execute(alter))
        if (refused->server_error != bridge::ServerError::Invalid) throw refused->error;
    for (std::size_t i = 2; i < statements.size(); ++i) execute(statements[i]);
  }

  void append_async(const StreamId& stream, ExpectedVersion expected, std::vector<EventData> events,
                    AppendCallback callback) override {
    if (auto error = validation_error([&] { prepare_append(stream, expected, events, connection_->limits); }))
      return callback(std::move(*error));
    start_append(connection_, feed_, markers_, stream, expected, std::move(events), std::move(callback));
  }

  void change_lifecycle_async(const StreamId& stream, LifecycleChange change, AppendCallback callback) override {
    EventData event;
    if (auto error = validation_error([&] { event = prepare_lifecycle(stream, change, connection_->limits); }))
      return callback(std::move(*error));
    if (change.kind != LifecycleKind::kTruncate)
      callback = after_removing_snapshot(connection_, stream, std::move(callback));
    start_lifecycle(connection_, feed_, markers_, stream, change, std::move(event), std::move(callback));
  }

  std::unique_ptr<EventCursor> read(const StreamId& stream, const ReadOptions& options) override {
    return read_scylla_stream(connection_, stream, options);
  }

  void head_async(const StreamId& stream, HeadCallback callback) override {
    if (auto error = validation_error([&] { validate_stream(stream, connection_->limits); }))
      return callback(std::move(*error));
    connection_->session->read_head(key_of(stream), /*serial=*/false,
                                    done<SliceDone>([callback](bridge::StreamSlice slice) { callback(head_of(slice)); },
                                                    [callback, stream](const bridge::BridgeError& e) {
                                                      callback(to_error(e, "head of " + to_string(stream)));
                                                    }));
  }

  void load_snapshot_async(const StreamId& stream, LoadCallback callback) override {
    load_scylla_snapshot(connection_, stream, std::move(callback));
  }

  void save_snapshot_async(const StreamId& stream, Snapshot snapshot, SaveCallback callback) override {
    save_scylla_snapshot(connection_, stream, std::move(snapshot), std::move(callback));
  }

  // The feed's read side: feed_reader.h, feed_checkpoints.h.
  void read_feed_async(const std::string& context, const FeedReadOptions& options, FeedPageCallback callback) override {
    scylla_read_feed(connection_, context, options, std::move(callback));
  }

  void feed_head_async(const std::string& context, PositionCallback callback) override {
    scylla_feed_head(connection_, context, std::move(callback));
  }

  void load_checkpoint_async(const std::string& context, const std::string& name,
                             CheckpointCallback callback) override {
    scylla_load_checkpoint(connection_, context, name, std::move(callback));
  }

  void save_checkpoint_async(const std::string& context, const std::string& name, std::int64_t position,
                             PositionCallback callback) override {
    scylla_save_checkpoint(connection_, context, name, position, std::move(callback));
  }

  void feed_status_async(const std::string& context, StatusCallback callback) override {
    scylla_feed_status(connection_, context, std::move(callback));
  }

 private:
  std::shared_ptr<Connection> connection_;
  std::string description_;
  std::shared_ptr<const FeedSettings> feed_;
  std::shared_ptr<MarkerWriter> markers_;  // null with feed=false
  std::vector<std::unique_ptr<FeedRelay>> relays_;
  std::unique_ptr<HostMetricsReporter> host_metrics_;  // null without a metrics sink
};

}  // namespace

namespace {
ScyllaStore& scylla_store_of(Store& store) {
  auto* scylla = dynamic_cast<ScyllaStore*>(&store);
  if (!scylla) throw Error::invalid("not a store made by open_scylla_store");
  return *scylla;
}
}  // namespace

void execute_statement(Store& store, const std::string& cql) { scylla_store_of(store).execute(cql); }

std::shared_ptr<Connection> scylla_connection(Store& store) { return scylla_store_of(store).connection(); }

std::unique_ptr<FeedRelay> start_scylla_relay(Store& store, const RelayOptions& options, const RelayTuning& tuning) {
  const std::shared_ptr<Connection> connection = scylla_connection(store);
  return start_scylla_relay(connection, connection->keyspace, options, tuning);
}

void inject_batch_faults(Store& store, const std::vector<InjectedBatchFault>& faults) {
  ScyllaStore* scylla = &scylla_store_of(store);
  rust::Vec<bridge::BatchFault> injected;
  for (const InjectedBatchFault& fault : faults) {
    const bridge::ErrorKind kind =
        fault.code == ErrorCode::kOutcomeUnknown ? bridge::ErrorKind::OutcomeUnknown : bridge::ErrorKind::Unavailable;
    injected.push_back(bridge::BatchFault{fault.applied, kind});
  }
  scylla->session().inject_batch_faults(std::move(injected));
}

std::shared_ptr<Connection> connect_session(bridge::SessionConfig config, const std::string& redacted_uri,
                                            const Limits& limits, std::shared_ptr<MetricsSink> metrics) {
  std::string keyspace = to_std(config.keyspace);
  auto session = wait_for<rust::Box<bridge::Session>>([&](auto finished) {
    bridge::connect(std::move(config),
                    done<ConnectDone>([finished](rust::Box<bridge::Session> s) { finished(std::move(s)); },
                                      [finished, &redacted_uri](const bridge::BridgeError& e) {
                                        finished(to_error(e, "cannot connect to " + redacted_uri));
                                      }));
  });
  return std::make_shared<Connection>(Connection{std::move(session), limits, std::move(keyspace), std::move(metrics)});
}

std::shared_ptr<Store> open_scylla_store(const ClusterUri& uri, const std::string& redacted_uri,
                                         const StoreOptions& options) {
  bridge::SessionConfig config = session_config_from(uri);
  FeedSettings feed = feed_settings_from(uri);
  auto connection = connect_session(std::move(config), redacted_uri, options.limits, options.metrics);
  auto store = std::make_shared<ScyllaStore>(std::move(connection), redacted_uri, std::move(feed));
  store->start_uri_relays();
  return store;
}

}  // namespace eventstore::detail
