#include "glue.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <sstream>

namespace clientele::glue {

std::string describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? "true" : "false";
  if (v.IsNumber()) {
    std::ostringstream s;
    s << v.As<Napi::Number>().DoubleValue();
    return s.str();
  }
  if (v.IsString()) return "'" + v.As<Napi::String>().Utf8Value() + "'";
  if (v.IsTypedArray()) {
    static const char* names[] = {"Int8Array",    "Uint8Array",   "Uint8ClampedArray", "Int16Array",
                                  "Uint16Array",  "Int32Array",   "Uint32Array",       "Float32Array",
                                  "Float64Array", "BigInt64Array", "BigUint64Array"};
    auto t = static_cast<int>(v.As<Napi::TypedArray>().TypedArrayType());
    std::string n = (t >= 0 && t < 11) ? names[t] : "typed array";
    return "a " + n + " of length " + std::to_string(v.As<Napi::TypedArray>().ElementLength());
  }
  if (v.IsArray()) return "an array";
  if (v.IsFunction()) return "a function";
  if (v.IsObject()) return "an object";
  return "a value of another type";
}

Args::Args(const Napi::CallbackInfo& info, const char* fn) : env_(info.Env()), fn_(fn) {
  if (info.Length() < 1 || !info[0].IsObject() || info[0].IsArray())
    throw Napi::TypeError::New(env_, fn_ + ": expected an options object, received " +
                                         (info.Length() < 1 ? std::string("nothing") : describe(info[0])));
  obj_ = info[0].As<Napi::Object>();
}

void Args::verify_unchanged() const {
  for (const Seen& s : seen_) {
    Napi::ArrayBuffer buf = s.array.ArrayBuffer();
    const void* now = buf.Data() == nullptr ? nullptr : static_cast<uint8_t*>(buf.Data()) + s.array.ByteOffset();
    if (now != s.data || s.array.ByteLength() != s.bytes)
      range_error(s.key, "its memory to stay in place while the call reads its options", "a buffer detached or moved by then");
  }
}

bool Args::has(const char* key) const {
  Napi::Value v = obj_.Get(key);
  return !v.IsUndefined() && !v.IsNull();
}

Napi::Value Args::get(const char* key) const { return obj_.Get(key); }

void Args::type_error(const char* key, const std::string& expected, const Napi::Value& got) const {
  throw Napi::TypeError::New(env_, fn_ + ": " + key + ": expected " + expected + ", received " + describe(got));
}

void Args::range_error(const char* key, const std::string& expected, const std::string& got) const {
  Napi::Error e = Napi::RangeError::New(env_, fn_ + ": " + key + ": expected " + expected + ", received " + got);
  throw e;
}

int64_t Args::integer(const char* key, int64_t lo, int64_t hi, const int64_t* def) const {
  Napi::Value v = get(key);
  std::string expected = "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  if (v.IsUndefined() || v.IsNull()) {
    if (def != nullptr) return *def;
    type_error(key, expected, v);
  }
  if (!v.IsNumber()) type_error(key, expected, v);
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || d < static_cast<double>(lo) || d > static_cast<double>(hi))
    range_error(key, expected, describe(v));
  return static_cast<int64_t>(d);
}

double Args::number(const char* key, double lo, double hi, const double* def) const {
  Napi::Value v = get(key);
  std::ostringstream e;
  e << "a finite number in [" << lo << ", " << hi << "]";
  if (v.IsUndefined() || v.IsNull()) {
    if (def != nullptr) return *def;
    type_error(key, e.str(), v);
  }
  if (!v.IsNumber()) type_error(key, e.str(), v);
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d < lo || d > hi) range_error(key, e.str(), describe(v));
  return d;
}

bool Args::boolean(const char* key, bool def) const {
  Napi::Value v = get(key);
  if (v.IsUndefined() || v.IsNull()) return def;
  if (!v.IsBoolean()) type_error(key, "a boolean", v);
  return v.As<Napi::Boolean>().Value();
}

std::string Args::string(const char* key, const std::string& def) const {
  Napi::Value v = get(key);
  if (v.IsUndefined() || v.IsNull()) return def;
  if (!v.IsString()) type_error(key, "a string", v);
  return v.As<Napi::String>().Utf8Value();
}

int Args::threads() const { return resolve_threads(static_cast<int>(integer("threads", 0, 1024, int64_t{0}))); }

DotRowsI8 Args::i8_kernel() const {
  std::string k = string("kernel", "auto");
  try {
    return select_i8_kernel(parse_kernel_choice(k, "kernel"));
  } catch (const Error& e) {
    throw Napi::RangeError::New(env_, fn_ + ": " + e.what());
  }
}

const Kernels& Args::kernels() const {
  std::string k = string("kernel", "auto");
  try {
    return select_kernels(parse_kernel_choice(k, "kernel"));
  } catch (const Error& e) {
    throw Napi::RangeError::New(env_, fn_ + ": " + e.what());
  }
}

int32_t* Args::cancel_flag(TaskInputs& inputs) const {
  if (!has("cancel")) return nullptr;
  View<int32_t> v = typed<int32_t>("cancel", true);
  if (v.length < 1 || v.data == nullptr) range_error("cancel", "an Int32Array of length ≥ 1", "an empty Int32Array");
  std::shared_ptr<PinnedBlock> block = find_pinned(v.data, sizeof(int32_t));
  if (!block) range_error("cancel", "a flag made by cancelFlag() (its memory must outlive the call, whatever JavaScript does with it)", "an Int32Array of JavaScript's own memory");
  inputs.hold(std::move(block));
  return v.data;
}

// ---- pinned memory and task inputs ----------------------------------------------------------

namespace {

constexpr size_t kPinAlign = 64;

size_t aligned_size(size_t bytes) { return (std::max<size_t>(bytes, 1) + kPinAlign - 1) / kPinAlign * kPinAlign; }

/** Live pinned blocks by start address, for find_pinned. */
std::mutex& pinned_mutex() {
  static std::mutex m;
  return m;
}
std::map<uintptr_t, std::weak_ptr<PinnedBlock>>& pinned_blocks() {
  static std::map<uintptr_t, std::weak_ptr<PinnedBlock>> blocks;
  return blocks;
}

}  // namespace

PinnedBlock::PinnedBlock(size_t bytes) : bytes_(bytes) {
  data_ = static_cast<uint8_t*>(std::aligned_alloc(kPinAlign, aligned_size(bytes)));
  if (data_ == nullptr) throw std::bad_alloc();
  std::memset(data_, 0, aligned_size(bytes));
}

PinnedBlock::~PinnedBlock() {
  {
    std::lock_guard<std::mutex> lock(pinned_mutex());
    pinned_blocks().erase(reinterpret_cast<uintptr_t>(data_));
  }
  std::free(data_);
}

std::shared_ptr<PinnedBlock> find_pinned(const void* p, size_t bytes) {
  const auto at = reinterpret_cast<uintptr_t>(p);
  std::lock_guard<std::mutex> lock(pinned_mutex());
  auto& blocks = pinned_blocks();
  auto it = blocks.upper_bound(at);
  if (it == blocks.begin()) return nullptr;
  --it;
  std::shared_ptr<PinnedBlock> block = it->second.lock();
  if (!block || at + bytes < at || at + bytes > it->first + block->bytes()) return nullptr;
  return block;
}

Napi::ArrayBuffer pinned_buffer(Napi::Env env, size_t bytes) {
  auto block = std::make_shared<PinnedBlock>(bytes);
  {
    std::lock_guard<std::mutex> lock(pinned_mutex());
    pinned_blocks()[reinterpret_cast<uintptr_t>(block->data())] = block;
  }
  auto share = std::make_unique<std::shared_ptr<PinnedBlock>>(block);
  // The ArrayBuffer's share is dropped when it is collected; tasks reading the block hold shares
  // of their own. (Node does not move external memory on a transfer: the other side gets a
  // copy.) Where the runtime refuses external buffers, New throws and the share is freed here.
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(
      env, block->data(), bytes, [](Napi::Env, void*, std::shared_ptr<PinnedBlock>* s) { delete s; }, share.get());
  share.release();
  return buffer;
}

void TaskInputs::Free::operator()(uint8_t* p) const { std::free(p); }

void* TaskInputs::secure(const void* p, size_t bytes, bool share_pinned) {
  if (share_pinned) {
    if (std::shared_ptr<PinnedBlock> block = find_pinned(p, bytes)) {
      pins_.push_back(std::move(block));
      return const_cast<void*>(p);
    }
  }
  auto* copy = static_cast<uint8_t*>(std::aligned_alloc(kPinAlign, aligned_size(bytes)));
  if (copy == nullptr) throw std::bad_alloc();
  copies_.emplace_back(copy);
  std::memcpy(copy, p, bytes);
  return copy;
}

Napi::Function Args::progress() const {
  Napi::Value v = get("onProgress");
  if (v.IsUndefined() || v.IsNull()) return Napi::Function();
  if (!v.IsFunction()) type_error("onProgress", "a function", v);
  return v.As<Napi::Function>();
}

void check_finite(const Args& a, const char* key, const float* v, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(v[i]))
      a.range_error(key, "finite numbers", std::to_string(v[i]) + " at index " + std::to_string(i));
}

void check_index(const Args& a, const char* key, const int32_t* v, size_t n, size_t limit, const char* limit_name) {
  for (size_t i = 0; i < n; ++i)
    if (v[i] < 0 || static_cast<size_t>(v[i]) >= limit)
      a.range_error(key, std::string("indices in [0, ") + limit_name + "=" + std::to_string(limit) + ")",
                    std::to_string(v[i]) + " at index " + std::to_string(i));
}

Task::Task(const Args& args, const char* name) : env_(args.env()), name_(name) {
  threads_ = args.threads();
  K_ = &args.kernels();
  cancel_ = args.cancel_flag(inputs_);
  Napi::Function fn = args.progress();
  if (!fn.IsEmpty()) progress_ = Napi::Persistent(fn);
  args.secure_into(&inputs_);
}

float* Task::NewFloat32(size_t n, size_t* slot) {
  Napi::Float32Array a = Napi::Float32Array::New(env_, n);
  *slot = Keep(a);
  return n == 0 ? nullptr : a.Data();
}

int32_t* Task::NewInt32(size_t n, size_t* slot) {
  Napi::Int32Array a = Napi::Int32Array::New(env_, n);
  *slot = Keep(a);
  return n == 0 ? nullptr : a.Data();
}

double* Task::NewFloat64(size_t n, size_t* slot) {
  Napi::Float64Array a = Napi::Float64Array::New(env_, n);
  *slot = Keep(a);
  return n == 0 ? nullptr : a.Data();
}

Job::Job(Napi::Env env, std::unique_ptr<Task> task)
    : Napi::AsyncProgressQueueWorker<ProgressEvent>(env, task->name_),
      task_(std::move(task)),
      deferred_(Napi::Promise::Deferred::New(env)) {}

Napi::Promise Job::Start(std::unique_ptr<Task> task) {
  Napi::Env env = task->env_;
  // Nothing below throws for bad input; the worker deletes itself when it completes.
  auto* job = new Job(env, std::move(task));
  Napi::Promise p = job->deferred_.Promise();
  job->Queue();
  return p;
}

void Job::Execute(const ExecutionProgress& progress) {
  RunContext ctx;
  ctx.threads = task_->threads_;
  ctx.cancel_flag = task_->cancel_;
  if (!task_->progress_.IsEmpty()) {
    ctx.progress = [&progress](const Progress& p) {
      ProgressEvent e{p.stage, p.done, p.total, p.value};
      progress.Send(&e, 1);
    };
  }
  try {
    ctx.check_cancel();
    task_->Run(ctx);
  } catch (const Cancelled& e) {
    aborted_ = true;
    error_message_ = e.what();
  } catch (const Error& e) {
    error_kind_ = e.kind();
    error_message_ = e.what();
  } catch (const std::bad_alloc&) {
    error_message_ = "out of memory";
  } catch (const std::exception& e) {
    error_message_ = e.what();
  } catch (...) {
    error_message_ = "unknown native error";
  }
  if (aborted_ || !error_message_.empty()) SetError(error_message_.empty() ? "error" : error_message_);
}

void Job::OnProgress(const ProgressEvent* data, size_t count) {
  if (task_->progress_.IsEmpty()) return;
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  for (size_t i = 0; i < count; ++i) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("stage", data[i].stage);
    o.Set("done", static_cast<double>(data[i].done));
    o.Set("total", static_cast<double>(data[i].total));
    o.Set("value", data[i].value);
    try {
      task_->progress_.Call({o});
    } catch (const Napi::Error&) {
      // A throwing progress callback must not take the process down; the error is dropped.
    }
  }
}

void Job::OnOK() {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  try {
    deferred_.Resolve(task_->Result(env));
  } catch (const Napi::Error& e) {
    deferred_.Reject(e.Value());
  }
}

void Job::OnError(const Napi::Error&) {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  deferred_.Reject(make_error(env, error_kind_, aborted_, error_message_).Value());
}

Napi::Error make_error(Napi::Env env, ErrorKind kind, bool aborted, const std::string& message) {
  if (aborted) {
    Napi::Error e = Napi::Error::New(env, "The operation was aborted");
    e.Set("name", Napi::String::New(env, "AbortError"));
    e.Set("code", Napi::String::New(env, "ABORT_ERR"));
    return e;
  }
  switch (kind) {
    case ErrorKind::Type:
      return Napi::TypeError::New(env, message);
    case ErrorKind::Range:
      return Napi::RangeError::New(env, message);
    default:
      return Napi::Error::New(env, message);
  }
}

void rethrow_as_js(Napi::Env env) {
  try {
    throw;
  } catch (const Napi::Error&) {
    throw;
  } catch (const Cancelled& e) {
    throw make_error(env, ErrorKind::Generic, true, e.what());
  } catch (const Error& e) {
    throw make_error(env, e.kind(), false, e.what());
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(env, "out of memory");
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

}  // namespace clientele::glue
