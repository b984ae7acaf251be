// LocalInferenceService::Embed (SubmitEmbed once the model is loaded): each input is one engine
// request that pools instead of generating. A call keeps at most kEmbedInFlight of its inputs in
// the engine's queue at a time (the next is submitted as one finishes), so one large call cannot
// fill the queue, and it holds one of the caller's waiting slots throughout. Once the engine took
// the first input the call is accepted: its later inputs go to the same engine (one model
// version for all the call's vectors) even while a hot update drains that copy.
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
             const EmbedRequest& request, std::shared_ptr<CallerShares::Slot> slot)
      : host_(std::move(host)),
        busy_(std::move(busy)),
        inputs_(std::move(inputs)),
        pooling_(pooling),
        dimensions_(request.dimensions),
        normalize_(request.normalize),
        slot_(std::move(slot)) {
    result_.embeddings.resize(inputs_.size());
  }

  // Submits the first input. When the engine refuses it the call was not accepted: the error
  // is returned, `done` is handed back uncalled and the batch is dropped. Otherwise `done` is
  // the batch's, and the rest of the first kEmbedInFlight inputs follow.
  Status Start(InferenceService::Embedded& done) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = std::move(done);
    }
    Status first = SubmitInput(/*continues_accepted=*/false);
    if (!first.ok()) {
      std::shared_ptr<void> busy;  // released outside the lock: it takes the service's
      {
        std::lock_guard<std::mutex> lock(mu_);  // no callback ran: nothing was submitted
        done = std::move(done_);
        done_ = nullptr;
        slot_.reset();
        busy = std::move(busy_);
      }
      return first;
    }
    for (int i = 1; i < kEmbedInFlight; ++i) SubmitNext();
    return Status::Ok();
  }

 private:
  // A later input, if any; its refusal fails the call (SubmitInput), so there is nothing to return.
  void SubmitNext() { static_cast<void>(SubmitInput(/*continues_accepted=*/true)); }

  // Submits the next input, if any. The first input's refusal is returned; a later input's
  // fails the call and returns Ok.
  Status SubmitInput(bool continues_accepted) {
    size_t index;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!error_.ok() || next_ >= inputs_.size()) return Status::Ok();
      index = next_++;
      ++in_flight_;
    }
    EngineRequest req;
    req.prompt = std::move(inputs_[index]);
    req.embed = pooling_;
    req.continues_accepted = continues_accepted;
    EngineCallbacks cb;
    cb.on_finish = [self = shared_from_this(), index](const EngineFinish& f) {
      self->Finished(index, f);
    };
    auto ticket = host_->engine().Submit(std::move(req), std::move(cb));
    if (ticket.ok()) return Status::Ok();
    if (!continues_accepted) return ticket.status();
    Fail(ticket.status().WithField("input"));
    return Status::Ok();
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

// A hot update may retire the copy between the lookup and the first input's submission; the
// call then goes to the new copy, once (as Chat does).
void LocalInferenceService::Embed(EmbedRequest request, Embedded done) {
  bool retired = false;
  Status status = EmbedOnce(request, done, &retired);
  if (retired) status = EmbedOnce(request, done, nullptr);
  if (!status.ok()) done(std::move(status));
}

Status LocalInferenceService::EmbedOnce(const EmbedRequest& request, Embedded& done,
                                        bool* retired) {
  // Held busy like a generation: an idle unload or an eviction cannot stop it halfway.
  LLMUX_ASSIGN_OR_RETURN(ModelUse use, UseModel(request.model, std::nullopt));
  std::shared_ptr<ModelHost> host = use.host;
  LLMUX_ASSIGN_OR_RETURN(EmbeddingPooling pooling, PoolingOf(*host));
  const int n_embd = host->engine().model().config().n_embd;
  if (request.dimensions < 0 || request.dimensions > n_embd) {
    return InvalidArgumentError("dimensions must be between 1 and " + std::to_string(n_embd) +
                                " for the model '" + host->name() + "'")
        .WithField("dimensions");
  }
  const int n_ctx = host->engine().n_ctx();
  const int n_vocab = host->engine().model().config().n_vocab;
  std::vector<std::vector<int32_t>> inputs;
  inputs.reserve(request.inputs.size());
  for (size_t i = 0; i < request.inputs.size(); ++i) {
    const EmbedInput& in = request.inputs[i];
    std::vector<int32_t> ids = in.tokens.empty()
                                   ? host->tokenizer().Encode(in.text, /*add_special=*/true,
                                                              /*parse_special=*/false)
                                   : in.tokens;
    const std::string which = "input " + std::to_string(i);
    if (ids.empty()) return InvalidArgumentError(which + " is empty").WithField("input");
    for (int32_t id : ids) {
      if (id < 0 || id >= n_vocab) {
        return InvalidArgumentError(which + " holds token id " + std::to_string(id) +
                                    ", outside the vocabulary")
            .WithField("input");
      }
    }
    if (static_cast<int>(ids.size()) > n_ctx) {
      if (!request.truncate) {
        return InvalidArgumentError(which + " has " + std::to_string(ids.size()) +
                                    " tokens; the model's context is " + std::to_string(n_ctx))
            .WithField("input");
      }
      ids.resize(n_ctx);
    }
    inputs.push_back(std::move(ids));
  }
  std::shared_ptr<CallerShares::Slot> slot;
  if (!request.caller_share.empty()) {
    slot = host->waiting_shares().TryAcquire(request.caller_share);
    if (!slot) {
      return ResourceExhaustedError("this caller already has " +
                                    std::to_string(host->waiting_shares().per_caller()) +
                                    " requests waiting for the model '" + host->name() +
                                    "', its share of the queue; try again later");
    }
  }
  auto batch = std::make_shared<EmbedBatch>(host, std::move(use.busy), std::move(inputs), pooling,
                                            request, std::move(slot));
  Status started = batch->Start(done);
  if (started.ok()) return started;
  batch.reset();  // releases the model and the waiting slot before the answer
  if (retired != nullptr && ReplacedSince(*host)) {
    *retired = true;
    return started;
  }
  return SubmitError(*host, started, "input");
}

}  // namespace llmux::serving
