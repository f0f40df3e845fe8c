#include "gpu.h"

#include <dlfcn.h>

#include <mutex>

namespace clientele {
namespace {

std::once_flag g_once;
GpuStatus g_status;
GpuApi g_api{};
bool g_api_ok = false;

std::string module_dir() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&module_dir), &info) == 0 || info.dli_fname == nullptr) return ".";
  std::string path(info.dli_fname);
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

void probe() {
#ifdef CLIENTELE_HAVE_CUDA
  g_status.compiled = true;
  std::string path = module_dir() + "/clientele_cuda.so";
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* e = dlerror();
    g_status.error = std::string("could not load ") + path + ": " + (e ? e : "unknown error");
    return;
  }
  g_status.loaded = true;
  g_api.device_count = reinterpret_cast<int (*)()>(dlsym(handle, "clientele_cuda_device_count"));
  g_api.kmeans_assign = reinterpret_cast<decltype(g_api.kmeans_assign)>(dlsym(handle, "clientele_cuda_kmeans_assign"));
  g_api.implicit_cg = reinterpret_cast<decltype(g_api.implicit_cg)>(dlsym(handle, "clientele_cuda_implicit_cg"));
  if (g_api.device_count == nullptr || g_api.kmeans_assign == nullptr || g_api.implicit_cg == nullptr) {
    g_status.error = "the CUDA library lacks expected symbols";
    return;
  }
  int n = g_api.device_count();
  g_status.devices = n > 0 ? n : 0;
  if (g_status.devices == 0) g_status.error = "no CUDA device found";
  g_api_ok = g_status.devices > 0;
  // The handle stays open for the life of the process.
#else
  g_status.error = "built without CUDA (nvcc was not found at build time)";
#endif
}

}  // namespace

const GpuStatus& gpu_status() {
  std::call_once(g_once, probe);
  return g_status;
}

const GpuApi* gpu_api() {
  gpu_status();
  return g_api_ok ? &g_api : nullptr;
}

}  // namespace clientele
