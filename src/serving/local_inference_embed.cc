// LocalInferenceService::Embed (SubmitEmbed once the model is loaded): each input is one engine
// request that pools instead of generating. A call keeps at most kEmbedInFlight of its inputs in
// the engine's queue at a time (the next is submitted as one finishes), so one large call cannot
// fill the queue, and it holds one of the caller's waiting slots throughout.
#include <cmath>
#include <mutex>

#include "serving/local_inference_service.h"

namespace llmux::serving {

namespace {

constexpr int kEmbedInFlight = 4;

Result<EmbeddingPooling> PoolingOf(ModelHost& host) {
  switch (host.engine().model().config().pooling) {
    case PoolingType::kUnspecified:
    case PoolingType::kMean:
      return EmbeddingPooling::kMean;
    case PoolingType::kLast:
      return EmbeddingPooling::kLast;
    case PoolingType::kNone:
    case PoolingType::kCls:
    case PoolingType::kRank:
      break;
  }
  return InvalidArgumentError("the model '" + host.name() +
                              "' declares a pooling type (none, cls or rank) that llmux does not "
                              "serve as embeddings")
      .WithField("model");
}

void Finalize(std::vector<float>& v, int dimensions, bool normalize) {
  if (dimensions > 0 && static_cast<size_t>(dimensions) < v.size()) v.resize(dimensions);
  if (!normalize) return;
  double sum = 0;
  for (float x : v) sum += static_cast<double>(x) * x;
  const double norm = std::sqrt(sum);
  if (norm > 0) {
    for (float& x : v) x = static_cast<float>(x / norm);
  }
}

// One call's inputs on their way through the engine.
class EmbedBatch : public std::enable_shared_from_this<EmbedBatch> {
 public:
  EmbedBatch(std::shared_ptr<ModelHost> host, std::shared_ptr<void> busy,
             std::vector<std::vector<int32_t>> inputs, EmbeddingPooling pooling,
             const EmbedRequest& request, std::shared_ptr<CallerShares::Slot> slot,
             InferenceService::Embedded done)
      : host_(std::move(host)),
        busy_(std::move(busy)),
        inputs_(std::move(inputs)),
        pooling_(pooling),
        dimensions_(request.dimensions),
        normalize_(request.normalize),
        slot_(std::move(slot)),
        done_(std::move(done)) {
    result_.embeddings.resize(inputs_.size());
  }

  void Start() {
    for (int i = 0; i < kEmbedInFlight; ++i) SubmitNext();
  }

 private:
  void SubmitNext() {
    size_t index;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!error_.ok() || next_ >= inputs_.size()) return;
      index = next_++;
      ++in_flight_;
    }
    EngineRequest req;
    req.prompt = std::move(inputs_[index]);
    req.embed = pooling_;
    EngineCallbacks cb;
    cb.on_finish = [self = shared_from_this(), index](const EngineFinish& f) {
      self->Finished(index, f);
    };
    auto ticket = host_->engine().Submit(std::move(req), std::move(cb));
    if (!ticket.ok()) Fail(ticket.status().WithField("input"));
  }

  void Finished(size_t index, const EngineFinish& f) {
    if (!f.error.ok() || f.embedding.empty()) {
      Fail(f.error.ok() ? UnavailableError("the model stopped before the embeddings were done")
                        : f.error);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      --in_flight_;
      result_.embeddings[index] = f.embedding;
      Finalize(result_.embeddings[index], dimensions_, normalize_);
      result_.prompt_tokens += f.prompt_tokens;
      ++finished_;
    }
    SubmitNext();
    MaybeDone();
  }

  void Fail(Status status) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      --in_flight_;
      if (error_.ok()) error_ = std::move(status);
    }
    MaybeDone();
  }

  void MaybeDone() {
    InferenceService::Embedded done;
    Result<EmbedResult> out = EmbedResult{};
    std::shared_ptr<void> busy;  // released outside the lock: it takes the service's
    {
      std::lock_guard<std::mutex> lock(mu_);
      const bool all = finished_ == inputs_.size();
      if (!done_ || in_flight_ > 0 || (error_.ok() && !all)) return;
      done = std::move(done_);
      done_ = nullptr;
      if (error_.ok()) {
        out = std::move(result_);
      } else {
        out = error_;
      }
      slot_.reset();
      busy = std::move(busy_);
    }
    busy.reset();
    done(std::move(out));
  }

  std::shared_ptr<ModelHost> host_;
  std::shared_ptr<void> busy_;  // the model is busy (not unloaded for idleness) until done
  std::vector<std::vector<int32_t>> inputs_;
  const EmbeddingPooling pooling_;
  const int dimensions_;
  const bool normalize_;
  std::mutex mu_;
  size_t next_ = 0;
  size_t finished_ = 0;
  int in_flight_ = 0;
  Status error_;
  EmbedResult result_;
  std::shared_ptr<CallerShares::Slot> slot_;
  InferenceService::Embedded done_;
};

}  // namespace

void LocalInferenceService::Embed(EmbedRequest request, Embedded done) {
  // Held busy like a generation: an idle unload or an eviction cannot stop it halfway.
  auto use = UseModel(request.model, std::nullopt);
  if (!use.ok()) return done(use.status());
  std::shared_ptr<ModelHost> host = use->host;
  auto pooling = PoolingOf(*host);
  if (!pooling.ok()) return done(pooling.status());
  const int n_embd = host->engine().model().config().n_embd;
  if (request.dimensions < 0 || request.dimensions > n_embd) {
    return done(InvalidArgumentError("dimensions must be between 1 and " + std::to_string(n_embd) +
                                     " for the model '" + host->name() + "'")
                    .WithField("dimensions"));
  }
  const int n_ctx = host->engine().n_ctx();
  const int n_vocab = host->engine().model().config().n_vocab;
  std::vector<std::vector<int32_t>> inputs;
  inputs.reserve(request.inputs.size());
  for (size_t i = 0; i < request.inputs.size(); ++i) {
    EmbedInput& in = request.inputs[i];
    std::vector<int32_t> ids = in.tokens.empty()
                                   ? host->tokenizer().Encode(in.text, /*add_special=*/true,
                                                              /*parse_special=*/false)
                                   : std::move(in.tokens);
    const std::string which = "input " + std::to_string(i);
    if (ids.empty()) return done(InvalidArgumentError(which + " is empty").WithField("input"));
    for (int32_t id : ids) {
      if (id < 0 || id >= n_vocab) {
        return done(InvalidArgumentError(which + " holds token id " + std::to_string(id) +
                                         ", outside the vocabulary")
                        .WithField("input"));
      }
    }
    if (static_cast<int>(ids.size()) > n_ctx) {
      if (!request.truncate) {
        return done(InvalidArgumentError(which + " has " + std::to_string(ids.size()) +
                                         " tokens; the model's context is " + std::to_string(n_ctx))
                        .WithField("input"));
      }
      ids.resize(n_ctx);
    }
    inputs.push_back(std::move(ids));
  }
  std::shared_ptr<CallerShares::Slot> slot;
  if (!request.caller_share.empty()) {
    slot = host->waiting_shares().TryAcquire(request.caller_share);
    if (!slot) {
      return done(ResourceExhaustedError("this caller already has " +
                                         std::to_string(host->waiting_shares().per_caller()) +
                                         " requests waiting for the model '" + host->name() +
                                         "', its share of the queue; try again later"));
    }
  }
  auto batch =
      std::make_shared<EmbedBatch>(std::move(host), std::move(use->busy), std::move(inputs),
                                   *pooling, request, std::move(slot), std::move(done));
  batch->Start();
}

}  // namespace llmux::serving
