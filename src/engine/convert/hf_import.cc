#include "engine/convert/hf_import.h"

#include <memory>
#include <mutex>
#include <vector>

#include "engine/convert/hf_metadata.h"
#include "engine/convert/hf_tensor_plan.h"
#include "engine/convert/hf_tensor_source.h"
#include "engine/convert/row_convert.h"
#include "engine/convert/spm_tokenizer_import.h"
#include "engine/gguf/gguf_writer.h"

namespace llmux::convert {

namespace {

constexpr uint32_t kQuantizationVersion = 2;  // ggml's GGML_QNT_VERSION

// Without --type: the precision of the token embedding (or the first matrix).
QuantizeTarget AutoTarget(const std::vector<PlannedTensor>& plan) {
  const HfTensor* probe = nullptr;
  for (const auto& p : plan) {
    if (p.name == "token_embd.weight") probe = p.sources[0].tensor;
  }
  if (probe == nullptr) {
    for (const auto& p : plan) {
      if (p.ne.size() >= 2) {
        probe = p.sources[0].tensor;
        break;
      }
    }
  }
  if (probe == nullptr || probe->dtype == "F32") return QuantizeTarget::kF32;
  if (probe->dtype == "F16") return QuantizeTarget::kF16;
  return QuantizeTarget::kBF16;
}

std::string ChoosePre(const HfTokenizer& tok, const HfModelShape& s) {
  if (tok.tokenizer_class.rfind("Qwen2Tokenizer", 0) == 0) return "qwen2";
  if (s.arch == "deepseek2") return "deepseek-v3";
  return "llama-bpe";
}

Status AddTokenizer(const HfCheckpoint& ck, const HfModelShape& s, const HfImportOptions& o,
                    gguf::GgufWriter& w) {
  if (!ck.tokenizer) return NotFoundError("no tokenizer.json in " + ck.dir);
  const HfTokenizer& tok = *ck.tokenizer;
  const int64_t vocab_size = ck.config.Int("vocab_size").value_or(0);
  if (tok.byte_fallback) {
    return AddSentencePieceMetadata(tok, vocab_size, w).status();
  }
  TokenizerImportOptions t;
  t.pre = o.tokenizer_pre.empty() ? ChoosePre(tok, s) : o.tokenizer_pre;
  t.vocab_size = vocab_size;
  auto r = AddTokenizerMetadata(tok, t, w);
  if (!r.ok() && vocab_size > 0) {  // a config vocab_size below the tokenizer's ids: use its own
    t.vocab_size = 0;
    r = AddTokenizerMetadata(tok, t, w);
  }
  return r.status();
}

// The sources of one output tensor, opened for reading.
struct OpenSources {
  std::vector<HfMatrix> m;
  std::vector<float> whole;  // kv_b decoded whole (kKvbTo*)
};

Result<OpenSources> Open(HfFiles& files, const PlannedTensor& p, const HfModelShape& s) {
  OpenSources o;
  for (const HfSource& src : p.sources) {
    BlockScale scale{src.scale, s.fp8_block_rows, s.fp8_block_cols};
    LLMUX_ASSIGN_OR_RETURN(HfMatrix m, HfMatrix::Open(files, *src.tensor, scale));
    o.m.push_back(std::move(m));
  }
  int64_t want = 1;
  for (int64_t d : p.ne) want *= d;
  int64_t have = 0;
  for (const HfMatrix& m : o.m) have += m.rows() * m.cols();
  const bool split = p.transform == HfTransform::kKvbToKb || p.transform == HfTransform::kKvbToVb;
  if (p.transform == HfTransform::kGenerated) have = static_cast<int64_t>(p.values.size());
  if (!split && have != want) {
    return InvalidArgumentError("tensor '" + p.sources[0].tensor->name + "' has " +
                                std::to_string(have) + " values; " + p.name + " needs " +
                                std::to_string(want));
  }
  if (p.transform == HfTransform::kKvbToKb || p.transform == HfTransform::kKvbToVb) {
    const HfMatrix& m = o.m[0];
    o.whole.resize(static_cast<size_t>(m.rows() * m.cols()));
    for (int64_t r = 0; r < m.rows(); ++r) m.Row(r, o.whole.data() + r * m.cols());
  }
  return o;
}

// Row `row` of the output tensor (ne[0] values).
void MakeRow(const PlannedTensor& p, const OpenSources& o, int64_t row, float* out) {
  switch (p.transform) {
    case HfTransform::kCopy:
      o.m[0].Row(row, out);
      return;
    case HfTransform::kGenerated:
      std::copy_n(p.values.begin() + row * p.ne[0], p.ne[0], out);
      return;
    case HfTransform::kPermuteRope: {
      const HfMatrix& m = o.m[0];
      if (m.rows() == 1) {  // a bias: permute its elements
        std::vector<float> tmp(static_cast<size_t>(m.cols()));
        m.Row(0, tmp.data());
        const int64_t hd = m.cols() / p.n_heads;
        for (int64_t i = 0; i < m.cols(); ++i) {
          const int64_t h = i / hd, j = (i % hd) / 2, t = (i % hd) % 2;
          out[i] = tmp[static_cast<size_t>(h * hd + t * (hd / 2) + j)];
        }
        return;
      }
      // Output row h*hd + 2j + t is Hugging Face's row h*hd + t*hd/2 + j.
      const int64_t hd = m.rows() / p.n_heads;
      const int64_t h = row / hd, j = (row % hd) / 2, t = (row % hd) % 2;
      m.Row(h * hd + t * (hd / 2) + j, out);
      return;
    }
    case HfTransform::kStackExperts: {
      const int64_t rows = o.m[0].rows();
      o.m[static_cast<size_t>(row / rows)].Row(row % rows, out);
      return;
    }
    case HfTransform::kKvbToKb: {
      // Row (head h, latent l) holds kv_b[h * (nope + v) + i][l] for i < nope.
      const int64_t kv_lora = p.ne[1];
      const int64_t h = row / kv_lora, l = row % kv_lora;
      const int64_t base = h * (p.qk_nope + p.v_head);
      for (int64_t i = 0; i < p.qk_nope; ++i) {
        out[i] = o.whole[static_cast<size_t>((base + i) * kv_lora + l)];
      }
      return;
    }
    case HfTransform::kKvbToVb: {
      // Row (head h, j) is kv_b row h * (nope + v) + nope + j.
      const int64_t kv_lora = p.ne[0];
      const int64_t h = row / p.v_head, j = row % p.v_head;
      const float* src = o.whole.data() + ((h * (p.qk_nope + p.v_head) + p.qk_nope + j) * kv_lora);
      std::copy(src, src + kv_lora, out);
      return;
    }
  }
}

}  // namespace

Result<HfImportSummary> ImportHfCheckpoint(const HfCheckpoint& ck, const std::string& out_path,
                                           ThreadPool& pool, const HfImportOptions& options) {
  LLMUX_ASSIGN_OR_RETURN(HfModelShape shape, ReadModelShape(ck.config));
  LLMUX_ASSIGN_OR_RETURN(std::vector<PlannedTensor> plan, PlanHfTensors(ck, shape));

  HfImportSummary summary;
  summary.arch = shape.arch;
  summary.target = options.target.value_or(AutoTarget(plan));

  std::vector<TensorShape> shapes;
  for (const auto& p : plan) shapes.push_back({p.name, p.ne, DType::kF32});
  const std::vector<DType> types =
      PlanTensorTypes(shapes, summary.target, {}, shape.n_layer, shape.n_expert);

  gguf::GgufWriter w;
  LLMUX_RETURN_IF_ERROR(AddArchitectureMetadata(ck.config, shape, w));
  if (!options.name.empty()) w.SetString("general.name", options.name);
  LLMUX_RETURN_IF_ERROR(AddTokenizer(ck, shape, options, w));
  w.SetUint32("general.quantization_version", kQuantizationVersion);
  w.SetUint32("general.file_type", FileTypeOf(summary.target));

  auto files = std::make_shared<HfFiles>();
  auto progress = std::make_shared<ConvertProgress>();
  progress->tensors_total = static_cast<int64_t>(plan.size());
  for (size_t i = 0; i < plan.size(); ++i) {
    auto bytes = RowBytes(types[i], plan[i].ne[0]);
    if (!bytes) return InternalError("tensor '" + plan[i].name + "': no row size");
    int64_t rows = 1;
    for (size_t d = 1; d < plan[i].ne.size(); ++d) rows *= plan[i].ne[d];
    progress->bytes_total += *bytes * static_cast<uint64_t>(rows);
  }
  auto shared_plan = std::make_shared<std::vector<PlannedTensor>>(std::move(plan));
  for (size_t i = 0; i < shared_plan->size(); ++i) {
    const PlannedTensor& p = (*shared_plan)[i];
    const DType dst = types[i];
    w.AddTensor(
        p.name, dst, p.ne,
        [&p, dst, files, progress, &pool, &options, shape](std::span<uint8_t> out) -> Status {
          LLMUX_ASSIGN_OR_RETURN(OpenSources o, Open(*files, p, shape));
          const int64_t ne0 = p.ne[0];
          const int64_t rows = ne0 == 0 ? 0
                                        : static_cast<int64_t>(out.size()) /
                                              static_cast<int64_t>(*RowBytes(dst, ne0));
          Status st = FillRows(dst, out.data(), ne0, rows, pool,
                               [&](int64_t r, float* row) { MakeRow(p, o, r, row); });
          for (const HfSource& s : p.sources) {
            files->Release(*s.tensor);
            if (s.scale) files->Release(*s.scale);
          }
          if (!st.ok()) return Status(st.code(), "tensor '" + p.name + "': " + st.message());
          progress->tensors_done++;
          progress->bytes_done += out.size();
          progress->tensor = p.name;
          if (options.progress) options.progress(*progress);
          return Status::Ok();
        });
  }
  LLMUX_RETURN_IF_ERROR(w.status());
  summary.n_tensors = progress->tensors_total;
  summary.n_bytes = progress->bytes_total;
  LLMUX_RETURN_IF_ERROR(w.Write(out_path));
  return summary;
}

}  // namespace llmux::convert
