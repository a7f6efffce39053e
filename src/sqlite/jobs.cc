// The writer's jobs and their answers (jobs.h).
#include "sqlite/jobs.h"

#include "core/validation.h"

namespace eventstore::detail {

std::size_t job_bytes(const Job& job) {
  if (const auto* a = std::get_if<AppendJob>(&job)) {
    std::size_t bytes = 0;
    for (const EventData& e : a->events) bytes += event_bytes(e.event_type, e.data, e.metadata);
    return bytes;
  }
  if (const auto* s = std::get_if<SnapshotJob>(&job))
    return s->snapshot.data.size() + (s->snapshot.metadata ? s->snapshot.metadata->size() : 0);
  return 0;
}

JobResult failure_for(const Job& job, const Error& error) {
  switch (job.index()) {
    case 0: return JobResult(std::in_place_index<0>, error);
    case 1: return JobResult(std::in_place_index<1>, error);
    default: return JobResult(std::in_place_index<2>, error);
  }
}

void complete_all(std::vector<Job>& batch, std::vector<JobResult>& results) {
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (auto* a = std::get_if<AppendJob>(&batch[i])) {
      complete(a->callback, std::move(std::get<0>(results[i])));
    } else if (auto* s = std::get_if<SnapshotJob>(&batch[i])) {
      complete(s->callback, std::move(std::get<1>(results[i])));
    } else {
      complete(std::get<CheckpointJob>(batch[i]).callback, std::move(std::get<2>(results[i])));
    }
  }
}

}  // namespace eventstore::detail
