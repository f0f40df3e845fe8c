// N-API glue helpers: argument reading with re-validation, pinned memory and the inputs of
// asynchronous calls (copied, or shared when pinned, so that nothing JavaScript does to them
// reaches a running worker), the Job base class (AsyncWorker with a Promise, progress through a
// thread-safe queue, a cancel flag), and error mapping from the core to JS error classes.
#pragma once

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "../core/common.h"
#include "../core/cpu.h"
#include "../core/kernels.h"

namespace clientele::glue {

template <typename T>
struct View {
  T* data = nullptr;
  size_t length = 0;
};

template <typename T>
struct TypedArrayKind;
template <>
struct TypedArrayKind<float> {
  static constexpr napi_typedarray_type type = napi_float32_array;
  static constexpr const char* name = "a Float32Array";
};
template <>
struct TypedArrayKind<double> {
  static constexpr napi_typedarray_type type = napi_float64_array;
  static constexpr const char* name = "a Float64Array";
};
template <>
struct TypedArrayKind<int32_t> {
  static constexpr napi_typedarray_type type = napi_int32_array;
  static constexpr const char* name = "an Int32Array";
};
template <>
struct TypedArrayKind<uint16_t> {
  static constexpr napi_typedarray_type type = napi_uint16_array;
  static constexpr const char* name = "a Uint16Array";
};
template <>
struct TypedArrayKind<uint8_t> {
  static constexpr napi_typedarray_type type = napi_uint8_array;
  static constexpr const char* name = "a Uint8Array";
};

std::string describe(const Napi::Value& v);

/**
 * Memory the addon allocates and lends to JavaScript as an ArrayBuffer (pinned_buffer). The
 * ArrayBuffer holds one share and every task reading the memory holds another, so detaching,
 * transferring or collecting the buffer while a worker runs cannot free it under the worker.
 * Item matrices, their compact copies and cancel flags live here; other inputs of an
 * asynchronous call are copied when the call starts.
 */
class PinnedBlock {
 public:
  explicit PinnedBlock(size_t bytes);
  ~PinnedBlock();
  PinnedBlock(const PinnedBlock&) = delete;
  PinnedBlock& operator=(const PinnedBlock&) = delete;
  uint8_t* data() const { return data_; }
  size_t bytes() const { return bytes_; }

 private:
  uint8_t* data_;
  size_t bytes_;
};

/** The pinned block holding all of [p, p + bytes), or null when that memory is not the addon's. */
std::shared_ptr<PinnedBlock> find_pinned(const void* p, size_t bytes);
/** A new zeroed ArrayBuffer of `bytes` in a pinned block, 64-byte aligned. */
Napi::ArrayBuffer pinned_buffer(Napi::Env env, size_t bytes);

/**
 * What an asynchronous call's worker reads of its typed-array inputs: private copies, made when
 * the call starts and validated after copying (so that JavaScript writing into an input later,
 * say an index out of range, cannot reach the worker), and shares of pinned blocks for float and
 * byte data (an item matrix and its compact copies), which JavaScript may still write into
 * while the worker reads them: scores from such writes are garbage, never out of bounds.
 */
class TaskInputs {
 public:
  /** Memory the worker may read for [p, p + bytes): a share when pinned (and `share_pinned`), else a copy. */
  void* secure(const void* p, size_t bytes, bool share_pinned);
  void hold(std::shared_ptr<PinnedBlock> block) { pins_.push_back(std::move(block)); }

 private:
  struct Free {
    void operator()(uint8_t* p) const;
  };
  std::vector<std::shared_ptr<PinnedBlock>> pins_;
  std::vector<std::unique_ptr<uint8_t, Free>> copies_;
};

/** Reads and re-validates one call's options object. Errors name `fn` and the option. */
class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* fn);
  Napi::Env env() const { return env_; }
  bool has(const char* key) const;
  Napi::Value get(const char* key) const;

  /**
   * A typed-array option. `align` > 0 requires the caller's data to start at a multiple of
   * that many bytes; it is checked before any private copy, so sync and async calls agree.
   */
  template <typename T>
  View<T> typed(const char* key, bool required = true, size_t align = 0) const {
    Napi::Value v = get(key);
    View<T> out;
    if (v.IsUndefined() || v.IsNull()) {
      if (required) type_error(key, TypedArrayKind<T>::name, v);
      return out;
    }
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != TypedArrayKind<T>::type)
      type_error(key, TypedArrayKind<T>::name, v);
    Napi::TypedArray ta = v.As<Napi::TypedArray>();
    Napi::ArrayBuffer buf = ta.ArrayBuffer();
    // A resizable ArrayBuffer could shrink under the pointer kept here (while a worker reads it).
    Napi::Value resizable = buf.Get("resizable");
    if (resizable.IsBoolean() && resizable.As<Napi::Boolean>().Value())
      range_error(key, "a typed array on a fixed-length buffer", "a resizable ArrayBuffer");
    out.length = ta.ElementLength();
    if (out.length > 0) {
      if (buf.Data() == nullptr) range_error(key, "a typed array with live (not detached) memory", "a detached buffer");
      out.data = reinterpret_cast<T*>(static_cast<uint8_t*>(buf.Data()) + ta.ByteOffset());
      if (align > 0 && reinterpret_cast<uintptr_t>(out.data) % align != 0)
        range_error(key, "data starting at a multiple of " + std::to_string(align) + " bytes", "byte offset not a multiple of " + std::to_string(align));
      seen_.push_back(Seen{key, ta, out.data, out.length * sizeof(T)});
      // Index arrays are always copied: validated once, they must stay as validated. Float and
      // byte data may be shared when pinned (an item matrix is too large to copy per call).
      if (inputs_ != nullptr)
        out.data = static_cast<T*>(inputs_->secure(out.data, out.length * sizeof(T), !std::is_same_v<T, int32_t>));
    }
    return out;
  }

  /**
   * While set, typed() hands out memory the worker of an asynchronous call may read whatever
   * JavaScript does meanwhile (see TaskInputs); start_task sets it around the task's constructor.
   */
  void secure_into(TaskInputs* inputs) const { inputs_ = inputs; }

  /**
   * Refuses the call when a typed array read earlier has since been detached or moved: reading
   * a later option can run JavaScript (a getter) that transfers an earlier array's buffer.
   * Call once every option has been read (start_task does for every asynchronous call; a
   * synchronous one calls it itself).
   */
  void verify_unchanged() const;

  /** An integer option in [lo, hi]; `def` when absent (if allowed). */
  int64_t integer(const char* key, int64_t lo, int64_t hi, const int64_t* def = nullptr) const;
  int64_t integer(const char* key, int64_t lo, int64_t hi, int64_t def) const { return integer(key, lo, hi, &def); }
  double number(const char* key, double lo, double hi, const double* def = nullptr) const;
  double number(const char* key, double lo, double hi, double def) const { return number(key, lo, hi, &def); }
  bool boolean(const char* key, bool def) const;
  std::string string(const char* key, const std::string& def) const;

  /** Thread count option `threads` (0 or absent = all cores). */
  int threads() const;
  /** Kernel option `kernel` ("auto" | "portable" | "avx2"). */
  const Kernels& kernels() const;
  /** The 8-bit scan kernel for the same option (VNNI where present unless "portable"). */
  DotRowsI8 i8_kernel() const;
  /**
   * The optional `cancel` flag: an Int32Array made by cancelFlag() (pinned: JavaScript keeps
   * writing it while the worker reads it); null when absent. Its block goes to `inputs`.
   */
  int32_t* cancel_flag(TaskInputs& inputs) const;
  /** The optional `onProgress` function. */
  Napi::Function progress() const;

  [[noreturn]] void type_error(const char* key, const std::string& expected, const Napi::Value& got) const;
  [[noreturn]] void range_error(const char* key, const std::string& expected, const std::string& got) const;

  const Napi::Object& object() const { return obj_; }

 private:
  struct Seen {
    const char* key;
    Napi::TypedArray array;
    const void* data;
    size_t bytes;
  };
  mutable std::vector<Seen> seen_;
  mutable TaskInputs* inputs_ = nullptr;
  Napi::Env env_;
  Napi::Object obj_;
  std::string fn_;
};

/** Checks that every value is finite; RangeError naming the argument and the first bad index. */
void check_finite(const Args& a, const char* key, const float* v, size_t n);
/** Checks 0 ≤ v[i] < limit; RangeError naming the argument and the first bad index. */
void check_index(const Args& a, const char* key, const int32_t* v, size_t n, size_t limit, const char* limit_name);

struct ProgressEvent {
  const char* stage;
  int64_t done;
  int64_t total;
  double value;
};

/**
 * What an asynchronous call does: its arguments are read and re-validated in the subclass's
 * constructor, which may throw. No async resource exists yet, so a bad argument just unwinds.
 */
class Task {
 public:
  Task(const Args& args, const char* name);
  virtual ~Task() = default;
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  /** Runs on a libuv pool thread: no N-API calls here. */
  virtual void Run(const RunContext& ctx) = 0;
  /** Builds the resolved value (on the JS thread). */
  virtual Napi::Value Result(Napi::Env env) = 0;
  /** Keeps a JS value (an output typed array) alive until the job ends; returns its slot. */
  size_t Keep(const Napi::Value& v) {
    keep_.push_back(Napi::Persistent(v));
    return keep_.size() - 1;
  }
  /** A kept value (on the JS thread). */
  Napi::Value Kept(size_t slot) { return keep_[slot].Value(); }
  /** Allocates a typed array (on the JS thread) that the worker fills; kept alive; `slot` for Kept(). */
  float* NewFloat32(size_t n, size_t* slot);
  int32_t* NewInt32(size_t n, size_t* slot);
  double* NewFloat64(size_t n, size_t* slot);

 protected:
  int threads_ = 1;
  const Kernels* K_ = nullptr;

 private:
  friend class Job;
  Napi::Env env_;
  const char* name_;
  std::vector<Napi::Reference<Napi::Value>> keep_;
  Napi::FunctionReference progress_;
  int32_t* cancel_ = nullptr;
  // What the worker reads of the inputs; the constructor points the Args at it, so that every
  // typed array the subclass's constructor reads is secured.
  TaskInputs inputs_;
};

/**
 * Runs a fully built Task off the event loop and settles its Promise, forwarding progress and
 * honouring the cancel flag. Made only once the Task's constructor has succeeded: an
 * AsyncProgressQueueWorker owns a thread-safe function from its own constructor on, and one
 * destroyed by an exception thrown half-way through construction would later be finalised
 * into freed memory.
 */
class Job : public Napi::AsyncProgressQueueWorker<ProgressEvent> {
 public:
  /** Queues the task and returns its Promise. */
  static Napi::Promise Start(std::unique_ptr<Task> task);
  ~Job() override = default;

 private:
  Job(Napi::Env env, std::unique_ptr<Task> task);
  void Execute(const ExecutionProgress& progress) override;
  void OnProgress(const ProgressEvent* data, size_t count) override;
  void OnOK() override;
  void OnError(const Napi::Error& e) override;

  std::unique_ptr<Task> task_;
  Napi::Promise::Deferred deferred_;
  ErrorKind error_kind_ = ErrorKind::Generic;
  bool aborted_ = false;
  std::string error_message_;
};

/** Builds the task from the call's arguments, then starts it (what every async binding does). */
template <typename T, typename... Extra>
Napi::Promise start_task(const Args& args, Extra... extra) {
  struct Unsecure {
    const Args& a;
    ~Unsecure() { a.secure_into(nullptr); }
  } unsecure{args};
  auto task = std::make_unique<T>(args, extra...);
  args.verify_unchanged();
  return Job::Start(std::move(task));
}

/** Converts a core exception (rethrown inside) into a thrown JS error of the right class. */
[[noreturn]] void rethrow_as_js(Napi::Env env);
Napi::Error make_error(Napi::Env env, ErrorKind kind, bool aborted, const std::string& message);

}  // namespace clientele::glue
