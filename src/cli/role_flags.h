// Flags the role commands share (serve, gateway, worker, mcp): each binds straight to a field
// of the layer's own options struct, so no command keeps a copy of a default.
#pragma once

#include <CLI/CLI.hpp>

#include "app/edge.h"
#include "discovery/etcd_client.h"
#include "serving/model_host.h"

namespace llmux::cli {

// --threads, --ctx-size, --max-waiting(-per-caller), --max-running, --max-batch-tokens,
// --kv-cache-memory, --kv-type, --max-loaded-models, --keep-alive.
void AddModelHostFlags(CLI::App* sub, serving::ModelHostOptions* o);

// --etcd (endpoints, repeatable or comma-separated) and --etcd-prefix.
void AddEtcdFlags(CLI::App* sub, discovery::EtcdClientOptions* etcd, std::string* prefix);

// Listening, authentication, TLS, origins, limits and MCP sessions of the client-facing edge.
void AddEdgeFlags(CLI::App* sub, app::EdgeOptions* o);

}  // namespace llmux::cli
