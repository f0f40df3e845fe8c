#pragma once
#include <napi.h>

namespace clientele::glue {
/** Registers the issue-3 functions (factorization, k-means, scoring, serialisation). */
void register_more(Napi::Env env, Napi::Object exports);
}  // namespace clientele::glue
