// The per-backend parts of check_health (include/eventstore/health.h); each fills the report's
// answers, round trip, schema, hosts and leases, and adds its problems. None throws for a failure
// of the store: a failure is a problem in the report.
#pragma once

#include <string>

#include "eventstore/health.h"
#include "eventstore/store_uri.h"

namespace eventstore::detail {

void check_sqlite_health(const std::string& path, const HealthOptions& options, HealthReport& report);
#ifdef EVENTSTORE_WITH_SCYLLA
// Throws Error(kInvalidArgument) for URI options open_store would refuse.
void check_scylla_health(const ClusterUri& uri, const HealthOptions& options, HealthReport& report);
#endif

}  // namespace eventstore::detail
