#include "services/audit/audit_log.h"

#include <spdlog/spdlog.h>

namespace llmux::audit {

void AppendOrWarn(AuditLog& log, const Event& event) {
  auto id = log.Append(event);
  if (!id.ok()) {
    spdlog::warn("audit log: could not record {} on {}: {}", event.action, event.target,
                 id.status().ToString());
  }
}

}  // namespace llmux::audit
