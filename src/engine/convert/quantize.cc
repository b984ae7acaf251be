#include "engine/convert/quantize.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "engine/convert/row_convert.h"
#include "engine/gguf/gguf_writer.h"

namespace llmux::convert {

namespace {

constexpr uint32_t kQuantizationVersion = 2;  // ggml's GGML_QNT_VERSION

int ArchInt(const gguf::GgufFile& in, const std::string& arch, const char* suffix) {
  auto v = in.GetInt(arch + suffix);
  return v && *v > 0 && *v < (1 << 30) ? static_cast<int>(*v) : 0;
}

}  // namespace

Status QuantizeModel(const gguf::GgufFile& in, const std::string& out_path, QuantizeTarget target,
                     ThreadPool& pool, const QuantizeOptions& options, const ProgressFn& progress) {
  const std::string arch = in.GetString("general.architecture").value_or("");
  const int n_layer = ArchInt(in, arch, ".block_count");
  const int n_expert = ArchInt(in, arch, ".expert_count");

  // Output order and types.
  std::vector<const gguf::TensorInfo*> order;
  for (const auto& t : in.tensors()) order.push_back(&t);
  std::stable_sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
    return LlamaCppTensorOrder(a->name, b->name);
  });
  std::vector<TensorShape> shapes;
  for (const auto* t : order) shapes.push_back({t->name, t->ne, t->type});
  std::vector<DType> types = PlanTensorTypes(shapes, target, options, n_layer, n_expert);

  gguf::GgufWriter w;
  for (const auto& e : in.metadata()) {
    if (e.key == "general.quantization_version" || e.key == "general.file_type") continue;
    w.CopyValue(e.key, e.value);
  }
  w.SetUint32("general.quantization_version", kQuantizationVersion);
  w.SetUint32("general.file_type", FileTypeOf(target));

  ConvertProgress done;
  done.tensors_total = static_cast<int64_t>(order.size());
  std::vector<uint64_t> out_bytes(order.size(), 0);
  for (size_t i = 0; i < order.size(); ++i) {
    const gguf::TensorInfo* t = order[i];
    const int64_t ne0 = t->ne.empty() ? 1 : t->ne[0];
    auto row = RowBytes(types[i], ne0);
    out_bytes[i] = row && ne0 > 0 ? *row * static_cast<uint64_t>(t->n_elements() / ne0) : 0;
    done.bytes_total += out_bytes[i];
  }
  // Called as each tensor is written (a copied tensor reports through a producer too).
  auto report = [&done, &progress, &out_bytes](size_t i, std::string_view name) {
    done.tensors_done++;
    done.bytes_done += out_bytes[i];
    done.tensor = name;
    if (progress) progress(done);
  };
  for (size_t i = 0; i < order.size(); ++i) {
    const gguf::TensorInfo* t = order[i];
    const DType dst = types[i];
    if (dst == t->type) {
      if (!progress) {
        w.AddTensor(t->name, t->type, t->ne, t->data, t->nbytes);
      } else {
        w.AddTensor(t->name, t->type, t->ne, [t, i, &report](std::span<uint8_t> out) {
          std::memcpy(out.data(), t->data, out.size());
          report(i, t->name);
          return Status::Ok();
        });
      }
      continue;
    }
    if (!CanDequantize(t->type)) {
      return UnimplementedError("tensor '" + t->name + "': cannot convert from " +
                                std::string(Traits(t->type).name));
    }
    if (!CanQuantize(dst)) {
      return UnimplementedError("tensor '" + t->name + "': cannot encode " +
                                std::string(Traits(dst).name));
    }
    const int64_t ne0 = t->ne[0];
    const int64_t rows = ne0 == 0 ? 0 : t->n_elements() / ne0;
    w.AddTensor(
        t->name, dst, t->ne, [t, i, dst, ne0, rows, &pool, &report](std::span<uint8_t> out) {
          LLMUX_RETURN_IF_ERROR(ConvertRows(t->type, t->data, dst, out.data(), ne0, rows, pool));
          report(i, t->name);
          return Status::Ok();
        });
  }
  return w.Write(out_path);
}

}  // namespace llmux::convert
