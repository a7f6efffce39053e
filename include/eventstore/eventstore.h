// Everything of the public API in one include.
#pragma once

#include "eventstore/aggregate_store.h"
#include "eventstore/codec.h"
#include "eventstore/error.h"
#include "eventstore/event.h"
#include "eventstore/event_store.h"
#include "eventstore/expected_version.h"
#include "eventstore/feed.h"
#include "eventstore/limits.h"
#include "eventstore/log.h"
#include "eventstore/result.h"
#include "eventstore/snapshot_policy.h"
#include "eventstore/snapshot_store.h"
#include "eventstore/store.h"
#include "eventstore/stream_id.h"
#include "eventstore/subscription.h"
#include "eventstore/uuid.h"
