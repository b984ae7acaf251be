// Model pulls for operators:
//
//   POST /admin/v1/models/pull  {url | path, sha256?, name?}                    models:manage
//        -> 200, an NDJSON stream of {status, digest, total, completed} lines (Ollama's
//           /api/pull shape) ending with {status: "success", digest, total, completed,
//           path, size, name}, or with {error} when the pull fails after the stream began.
//           Refused before streaming: 400 (bad URL/scheme, digest, name), 403 (a path outside
//           the allowed directories), 409 (the same source is being pulled: not joined),
//           429 (too many pulls, in all or by this caller).
//
// A `path` is a local file (pulled only from the directories the server allows). The pull
// runs off the HTTP threads; a client that goes away cancels it, and the partial file stays
// for the next pull of the same URL to resume.
#pragma once

namespace llmux::pull {
class ModelPuller;
}

namespace llmux::gateway {

class GuardedRouter;

// `puller` must outlive the server.
void RegisterModelPullRoutes(GuardedRouter& router, pull::ModelPuller& puller);

}  // namespace llmux::gateway
