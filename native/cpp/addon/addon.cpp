// Module entry: registers every exported function.
#include <napi.h>

#include "../core/cpu.h"
#include "../core/gpu.h"
#include "../core/scoring.h"
#include "exports.h"
#include "glue.h"

namespace clientele::glue {
namespace {

Napi::Value CpuFeatures(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CpuInfo cpu = detect_cpu();
  Napi::Object o = Napi::Object::New(env);
  o.Set("avx2", cpu.avx2);
  o.Set("fma", cpu.fma);
  o.Set("avx512vnni", cpu.avx512vnni);
  // Whether the 8-bit scan runs on VNNI here (ItemScorer then keeps an 8-bit copy, else a half one).
  o.Set("int8ScanFast", i8_scan_is_fast());
  o.Set("kernel", default_kernel_name());
  o.Set("threads", hardware_threads());
  const GpuStatus& g = gpu_status();
  Napi::Object cuda = Napi::Object::New(env);
  cuda.Set("compiled", g.compiled);
  cuda.Set("devices", g.devices);
  if (!g.error.empty()) cuda.Set("reason", g.error);
  o.Set("cuda", cuda);
  return o;
}

class DotBatchJob : public Task {
 public:
  DotBatchJob(const Args& a) : Task(a, "clientele.dotBatch") {
    q_ = a.typed<float>("queries");
    m_ = a.typed<float>("matrix");
    d_ = static_cast<size_t>(a.integer("dim", 1, 1 << 20));
    if (q_.length % d_ != 0) a.range_error("queries", "a length divisible by dim=" + std::to_string(d_), std::to_string(q_.length));
    if (m_.length % d_ != 0) a.range_error("matrix", "a length divisible by dim=" + std::to_string(d_), std::to_string(m_.length));
    nq_ = q_.length / d_;
    rows_ = m_.length / d_;
    check_finite(a, "queries", q_.data, q_.length);
    check_finite(a, "matrix", m_.data, m_.length);
    out_ = NewFloat32(checked_mul(nq_, rows_, "queries × matrix rows"), &out_slot_);
  }

 protected:
  void Run(const RunContext& ctx) override { dot_batch(*K_, q_.data, nq_, m_.data, rows_, d_, out_, ctx); }
  Napi::Value Result(Napi::Env) override { return Kept(out_slot_); }

 private:
  View<float> q_, m_;
  size_t d_ = 1, nq_ = 0, rows_ = 0;
  float* out_ = nullptr;
  size_t out_slot_ = 0;
};

Napi::Value DotBatch(const Napi::CallbackInfo& info) {
  try {
    Args a(info, "dotBatch");
    return start_task<DotBatchJob>(a);
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    rethrow_as_js(info.Env());
  }
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("cpuFeatures", Napi::Function::New(env, CpuFeatures, "cpuFeatures"));
  exports.Set("dotBatch", Napi::Function::New(env, DotBatch, "dotBatch"));
  register_more(env, exports);
  exports.Set("abiVersion", Napi::Number::New(env, 2));
  return exports;
}

}  // namespace clientele::glue

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return clientele::glue::Init(env, exports); }

NODE_API_MODULE(clientele_native, InitModule)
