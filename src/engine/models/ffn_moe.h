// The router of a mixture-of-experts FFN (qwen3moe): which experts a token goes to, and with
// what weights. The expert products themselves are DenseModel::FeedForwardMoe.
#pragma once

#include <cstdint>

namespace llmux {

// Softmax over the n_expert router logits, the k most probable experts (the lower id first
// among equals), and their probabilities renormalised to sum to 1: llama.cpp's softmax gating
// with normalised weights. ids and weights get k entries, most probable first.
void RouteSoftmaxTopK(const float* logits, int n_expert, int k, int32_t* ids, float* weights);

}  // namespace llmux
