#include "history.h"

#include <chrono>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

namespace historycheck {

using eventstore::ErrorCode;
using eventstore::RecordedEvent;

namespace {

// The names the records and reports use, one table per enum, in the enum's order; the last is
// also the name of a value not listed.
constexpr std::pair<Outcome, const char*> kOutcomeNames[] = {{Outcome::kOk, "ok"},
                                                             {Outcome::kConflict, "conflict"},
                                                             {Outcome::kUnavailable, "unavailable"},
                                                             {Outcome::kUnknown, "unknown"},
                                                             {Outcome::kInvalid, "invalid"},
                                                             {Outcome::kStreamDeleted, "stream_deleted"},
                                                             {Outcome::kOtherError, "other_error"}};
static_assert(std::size(kOutcomeNames) == static_cast<std::size_t>(Outcome::kOtherError) + 1);
constexpr std::pair<ReadCheck, const char*> kReadCheckNames[] = {{ReadCheck::kNone, "none"},
                                                                 {ReadCheck::kSeen, "seen"},
                                                                 {ReadCheck::kNotSeen, "not_seen"},
                                                                 {ReadCheck::kFailed, "failed"},
                                                                 {ReadCheck::kHidden, "hidden"}};
static_assert(std::size(kReadCheckNames) == static_cast<std::size_t>(ReadCheck::kHidden) + 1);
constexpr std::pair<OpKind, const char*> kOpKindNames[] = {{OpKind::kAppend, "append"},
                                                           {OpKind::kTruncate, "truncate"},
                                                           {OpKind::kSoftDelete, "soft_delete"},
                                                           {OpKind::kHardDelete, "hard_delete"}};

template <class Enum, std::size_t N>
const char* name_in(const std::pair<Enum, const char*> (&names)[N], Enum value) {
  for (const auto& [candidate, name] : names)
    if (candidate == value) return name;
  return names[N - 1].second;
}

template <class Enum, std::size_t N>
std::optional<Enum> value_in(const std::pair<Enum, const char*> (&names)[N], const std::string& text) {
  for (const auto& [value, name] : names)
    if (text == name) return value;
  return std::nullopt;
}

Uuid parse_uuid(const nlohmann::json& j) {
  const std::optional<Uuid> id = Uuid::parse(j.get<std::string>());
  if (!id) throw std::runtime_error("history record: bad uuid " + j.dump());
  return *id;
}

std::vector<Uuid> parse_uuids(const nlohmann::json& j) {
  std::vector<Uuid> ids;
  for (const nlohmann::json& item : j) ids.push_back(parse_uuid(item));
  return ids;
}

nlohmann::json uuids_json(const std::vector<Uuid>& ids) {
  nlohmann::json array = nlohmann::json::array();
  for (const Uuid& id : ids) array.push_back(id.to_string());
  return array;
}

}  // namespace

std::string ids_text(const std::vector<Uuid>& ids) {
  std::string text = "[";
  for (std::size_t i = 0; i < ids.size(); ++i) text += (i ? "," : "") + ids[i].to_string();
  return text + "]";
}

std::string attempt_text(const Attempt& a) {
  std::ostringstream out;
  if (a.kind != OpKind::kAppend)
    out << to_string(a.kind) << (a.kind == OpKind::kTruncate ? " before " + std::to_string(a.before) : "") << " ";
  out << "op " << a.op << " (process " << a.process << " thread " << a.thread << ", attempt " << a.attempt
      << ", stream " << a.stream << ", expected " << (a.expected < 0 ? std::string("any") : std::to_string(a.expected))
      << ", ids " << ids_text(a.ids) << ")";
  return out.str();
}

Plan Plan::random(std::size_t count) {
  Plan plan;
  plan.context = "hc-" + Uuid::random().to_string().substr(24);
  for (std::size_t i = 0; i < count; ++i) plan.streams.push_back(Uuid::random());
  return plan;
}

const char* to_string(Outcome outcome) { return name_in(kOutcomeNames, outcome); }

const char* to_string(OpKind kind) { return name_in(kOpKindNames, kind); }

std::optional<Outcome> outcome_from_string(const std::string& text) { return value_in(kOutcomeNames, text); }

Outcome outcome_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::kVersionConflict: return Outcome::kConflict;
    case ErrorCode::kUnavailable: return Outcome::kUnavailable;
    case ErrorCode::kOutcomeUnknown: return Outcome::kUnknown;
    case ErrorCode::kInvalidArgument: return Outcome::kInvalid;
    case ErrorCode::kStreamDeleted: return Outcome::kStreamDeleted;
    default: return Outcome::kOtherError;
  }
}

nlohmann::json to_json(const Attempt& a) {
  nlohmann::json j = {{"op", a.op},
                      {"attempt", a.attempt},
                      {"process", a.process},
                      {"thread", a.thread},
                      {"stream", a.stream},
                      {"expected", a.expected},
                      {"ids", uuids_json(a.ids)},
                      {"invoke_ns", a.invoke_ns},
                      {"complete_ns", a.complete_ns},
                      {"outcome", to_string(a.outcome)}};
  if (a.kind != OpKind::kAppend) j["kind"] = to_string(a.kind);
  if (a.kind == OpKind::kTruncate) j["before"] = a.before;
  if (a.outcome == Outcome::kOk) {
    j["first_version"] = a.first_version;
    j["next_version"] = a.next_version;
    j["result_ids"] = uuids_json(a.result_ids);
  }
  if (a.current_version) j["current_version"] = *a.current_version;
  if (!a.error.empty()) j["error"] = a.error;
  if (a.read_check != ReadCheck::kNone) {
    j["read_check"] = name_in(kReadCheckNames, a.read_check);
    if (!a.read_detail.empty()) j["read_detail"] = a.read_detail;
    j["read"] = {a.read_from, a.read_lowest, a.read_start_ns, a.read_end_ns};
  }
  return j;
}

Attempt attempt_from_json(const nlohmann::json& j) {
  try {
    Attempt a;
    a.op = j.at("op").get<std::uint64_t>();
    a.attempt = j.at("attempt").get<int>();
    a.process = j.at("process").get<int>();
    a.thread = j.at("thread").get<int>();
    a.stream = j.at("stream").get<std::size_t>();
    a.expected = j.at("expected").get<std::int64_t>();
    a.ids = parse_uuids(j.at("ids"));
    a.invoke_ns = j.at("invoke_ns").get<std::int64_t>();
    a.complete_ns = j.at("complete_ns").get<std::int64_t>();
    const std::optional<Outcome> outcome = outcome_from_string(j.at("outcome").get<std::string>());
    if (!outcome) throw std::runtime_error("history record: unknown outcome");
    a.outcome = *outcome;
    if (j.contains("kind")) {
      const std::optional<OpKind> kind = value_in(kOpKindNames, j["kind"].get<std::string>());
      if (!kind) throw std::runtime_error("history record: unknown kind");
      a.kind = *kind;
    }
    if (j.contains("before")) a.before = j["before"].get<std::int64_t>();
    if (a.outcome == Outcome::kOk) {
      a.first_version = j.at("first_version").get<std::int64_t>();
      a.next_version = j.at("next_version").get<std::int64_t>();
      a.result_ids = parse_uuids(j.at("result_ids"));
    }
    if (j.contains("current_version")) a.current_version = j["current_version"].get<std::int64_t>();
    if (j.contains("error")) a.error = j["error"].get<std::string>();
    if (j.contains("read_check")) {
      // Only seen, not_seen and failed are ever written; anything else reads as failed.
      const std::optional<ReadCheck> c = value_in(kReadCheckNames, j["read_check"].get<std::string>());
      a.read_check = c && *c != ReadCheck::kNone ? *c : ReadCheck::kFailed;
      if (j.contains("read_detail")) a.read_detail = j["read_detail"].get<std::string>();
      if (j.contains("read")) {
        const nlohmann::json& read = j["read"];
        a.read_from = read.at(0).get<std::int64_t>();
        a.read_lowest = read.at(1).get<std::int64_t>();
        a.read_start_ns = read.at(2).get<std::int64_t>();
        a.read_end_ns = read.at(3).get<std::int64_t>();
      }
    }
    return a;
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("history record: ") + e.what());
  }
}

std::vector<StoredStream> read_final(eventstore::Store& store, const Plan& plan, double retry_seconds) {
  std::vector<StoredStream> result(plan.streams.size());
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<std::int64_t>(retry_seconds * 1000));
  for (std::size_t s = 0; s < plan.streams.size(); ++s) {
    const eventstore::StreamId stream = plan.stream(s);
    for (;;) {
      StoredStream& out = result[s];
      out = StoredStream{};
      try {
        eventstore::ReadOptions options;
        options.page_size = 500;
        store.for_each(stream, options, [&out](const RecordedEvent& e) { out.events.push_back(e); });
        out.head = store.head(stream);
        break;
      } catch (const std::exception& e) {
        out.read_error = e.what();
        if (std::chrono::steady_clock::now() >= deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
      }
    }
  }
  return result;
}

}  // namespace historycheck
