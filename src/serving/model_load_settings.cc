#include "serving/model_load_settings.h"

#include "serving/model_host.h"

namespace llmux::serving {

ModelHostOptions WithLoadSettings(ModelHostOptions options, const ModelLoadSettings& s) {
  if (s.n_ctx) options.engine.n_ctx = *s.n_ctx;
  if (s.kv_type) options.engine.kv_type = *s.kv_type;
  if (s.kv_cache_bytes) options.engine.kv_cache_bytes = *s.kv_cache_bytes;
  if (s.max_running) options.engine.scheduler.max_running = *s.max_running;
  return options;
}

}  // namespace llmux::serving
