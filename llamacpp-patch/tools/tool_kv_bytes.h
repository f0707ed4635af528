#pragma once

// The bytes a context's KV memory allocated, over all its buffers (llama_get_memory_breakdown; internal API,
// so the tools that include this are not part of the stock reference build).

#include "llama-ext.h"

#include <cstdint>

inline int64_t tool_kv_bytes(llama_context * ctx) {
    int64_t total = 0;
    for (const auto & [buft, mb] : llama_get_memory_breakdown(ctx)) {
        (void) buft;
        total += (int64_t) mb.context;
    }
    return total;
}
