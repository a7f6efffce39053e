// Store URIs inside the library: the public functions of eventstore/store_uri.h under the names
// the backends have always used (eventstore::detail::parse_store_uri, ...).
#pragma once

#include "eventstore/store_uri.h"

namespace eventstore::detail {

using eventstore::BackendUri;
using eventstore::ClusterUri;
using eventstore::complete_from_environment;
using eventstore::format_cluster_uri;
using eventstore::parse_store_uri;
using eventstore::password_span;
using eventstore::PasswordSpan;
using eventstore::percent_encode;
using eventstore::StoreLevelOptions;
using eventstore::StoreUri;
using eventstore::take_store_level_options;
using eventstore::without_password;

}  // namespace eventstore::detail
