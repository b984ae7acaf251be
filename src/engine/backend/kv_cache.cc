#include "engine/backend/kv_cache.h"

#include <cstring>
#include <limits>
#include <new>
#include <string>

#include "engine/backend/cpu/kernels/kernels.h"

namespace llmux {

namespace {
bool SupportedType(DType t) { return t == DType::kF32 || t == DType::kF16 || t == DType::kQ8_0; }
}  // namespace

Result<size_t> KvCache::BlockBytes(int n_layer, int kv_dim, DType type, int block_size,
                                   bool k_only) {
  if (!SupportedType(type)) {
    return InvalidArgumentError(std::string("kv cache type must be f32, f16 or q8_0, not ") +
                                std::string(Traits(type).name));
  }
  auto row = RowBytes(type, kv_dim);
  if (!row || n_layer <= 0 || block_size <= 0) {
    return InvalidArgumentError("kv cache rows of " + std::to_string(kv_dim) +
                                " values do not fit " + std::string(Traits(type).name) + " blocks");
  }
  return (k_only ? 1 : 2) * static_cast<size_t>(n_layer) * block_size * *row;
}

Result<std::unique_ptr<KvCache>> KvCache::Create(const KvCacheOptions& o) {
  if (o.n_layer <= 0 || o.kv_dim <= 0 || o.head_dim <= 0 || o.kv_dim % o.head_dim != 0 ||
      o.block_size <= 0 || o.n_blocks <= 0 || o.n_threads <= 0) {
    return InvalidArgumentError("kv cache: layers, kv_dim (a multiple of head_dim), block size, "
                                "blocks and threads must be > 0 (blocks " +
                                std::to_string(o.n_blocks) + " of " +
                                std::to_string(o.block_size) + ")");
  }
  if (!SupportedType(o.type)) {
    return InvalidArgumentError(std::string("kv cache type must be f32, f16 or q8_0, not ") +
                                std::string(Traits(o.type).name));
  }
  // Rows are read per kv head, so every head must start on a block of the type.
  if (o.head_dim % Traits(o.type).block_size != 0) {
    return InvalidArgumentError("kv cache type " + std::string(Traits(o.type).name) +
                                " needs head_dim divisible by " +
                                std::to_string(Traits(o.type).block_size));
  }
  const size_t row = *RowBytes(o.type, o.kv_dim);  // all heads of one position
  constexpr size_t kMax = std::numeric_limits<size_t>::max() / 4;
  const size_t slots = static_cast<size_t>(o.n_blocks) * static_cast<size_t>(o.block_size);
  if (slots / o.block_size != static_cast<size_t>(o.n_blocks) || slots > kMax / row / o.n_layer ||
      slots > static_cast<size_t>(std::numeric_limits<int32_t>::max()) ||
      o.scratch_floats > kMax / sizeof(float) / o.n_threads) {
    return ResourceExhaustedError("kv cache too large");
  }
  const size_t per_tensor = slots * row * o.n_layer;
  std::unique_ptr<KvCache> cache(new KvCache());
  cache->o_ = o;
  cache->head_bytes_ = *RowBytes(o.type, o.head_dim);
  // Pages are mapped on first write.
  cache->k_ = HugePageBuffer(per_tensor);
  if (!o.k_only) cache->v_ = HugePageBuffer(per_tensor);
  cache->scratch_.reset(new (std::nothrow) float[o.scratch_floats * o.n_threads + 1]);
  if (cache->k_.data() == nullptr || (!o.k_only && cache->v_.data() == nullptr) ||
      !cache->scratch_) {
    return ResourceExhaustedError("cannot allocate a kv cache of " +
                                  std::to_string((o.k_only ? 1 : 2) * per_tensor) + " bytes");
  }
  return cache;
}

void KvCache::Store(int layer, const float* k, const float* v, const int32_t* slots, int n,
                    ThreadPool& pool) {
  const int64_t dim = o_.kv_dim;
  const int64_t hd = o_.head_dim;
  auto store_row = [&](int64_t i) {
    for (int g = 0; g < n_head_kv(); ++g) {
      const float* ki = k + i * dim + g * hd;
      if (o_.type == DType::kF32) {
        std::memcpy(k_head(layer, slots[i], g), ki, hd * sizeof(float));
      } else {
        // Cannot fail: the type and row size were checked at creation.
        (void)kernels::QuantizeRow(o_.type, ki, k_head(layer, slots[i], g), hd);
      }
      if (o_.k_only) continue;
      const float* vi = v + i * dim + g * hd;
      if (o_.type == DType::kF32) {
        std::memcpy(v_head(layer, slots[i], g), vi, hd * sizeof(float));
      } else {
        (void)kernels::QuantizeRow(o_.type, vi, v_head(layer, slots[i], g), hd);
      }
    }
  };
  if (n >= 16 && o_.type != DType::kF32) {
    pool.ParallelFor(n, 4, store_row);
  } else {
    for (int i = 0; i < n; ++i) store_row(i);
  }
}

void KvCache::LoadRow(int layer, int64_t slot, float* k, float* v) const {
  for (int g = 0; g < n_head_kv(); ++g) {
    kernels::DequantizeRow(o_.type, k_head(layer, slot, g), k + g * o_.head_dim, o_.head_dim);
    kernels::DequantizeRow(o_.type, v_head(layer, slot, g), v + g * o_.head_dim, o_.head_dim);
  }
}

size_t KvCache::bytes() const {
  return (o_.k_only ? 1 : 2) * static_cast<size_t>(o_.n_layer) * static_cast<size_t>(n_slots()) * n_head_kv() *
             head_bytes_ +
         o_.scratch_floats * o_.n_threads * sizeof(float);
}

}  // namespace llmux
