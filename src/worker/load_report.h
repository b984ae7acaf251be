// The Load and GetVocab answers of a worker whose service hosts models (ModelLoadSource):
// per-model engine load and prefix-cache block hashes since each gateway's cursor, bounded.
#pragma once

#include <string>

#include "base/status.h"
#include "llmux/worker/v1/worker.pb.h"
#include "serving/model_load.h"

namespace llmux::worker {

inline constexpr int kMaxPrefixCursors = 1024;        // cursors read from one LoadRequest
inline constexpr uint32_t kMaxPrefixHashes = 65536;    // hashes per model per report (512 KiB)
inline constexpr uint32_t kDefaultPrefixHashes = 65536;

// Adds source's per-model load to `report`; block hashes only when request.prefix_cache.
void FillModelLoads(const serving::ModelLoadSource& source, const v1::LoadRequest& request,
                    v1::LoadReport& report);

}  // namespace llmux::worker
