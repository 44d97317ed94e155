#pragma once

// Deprecated: include what you use instead. json.cc was split (issue 15) into
//   pkg/job/spec_parser.h  reading and validating what clients send (ParseJobSpec, ...),
//   pkg/job/wire.h         records to and from JSON (ToJson, RecordFromJson, ToApiJson, ...),
//   pkg/job/output_key.h   where an output is stored (CanonicalJson, OutputKey).
// This header stays while code outside pkg/job still includes it.

#include "pkg/job/output_key.h"   // IWYU pragma: export
#include "pkg/job/spec_parser.h"  // IWYU pragma: export
#include "pkg/job/wire.h"         // IWYU pragma: export
