// Minimal CUPTI activity tracer, loaded with CUDA_INJECTION64_PATH (nsys is not on the GPU machine).
// Writes one CSV line per record to $CUPTI_TRACE_OUT:
//   K,start,end,stream,graphId,corr,name_idx,grid,block      kernels (graphId != 0: launched inside a CUDA graph)
//   R,cbid,start,end,tid,corr                                  runtime API calls
//   M,copyKind,bytes,start,end,stream,graphId,corr             memcpy
//   S,bytes,start,end,stream,graphId                           memset
//   N,idx,name                                                 kernel names (at exit)
// Timestamps: CUPTI's default on Linux, CLOCK_REALTIME ns (GPU times converted to it).
#include <cupti.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

static FILE *                                  g_out = nullptr;
static std::mutex                              g_mu;
static std::unordered_map<const char *, int>   g_name_ptr;
static std::unordered_map<std::string, int>    g_name_str;
static std::vector<std::string>                g_names;
static std::atomic<uint64_t>                   g_dropped{0};

#define CK(call)                                                                      \
    do {                                                                              \
        CUptiResult _r = (call);                                                      \
        if (_r != CUPTI_SUCCESS) {                                                    \
            const char * _s = nullptr;                                                \
            cuptiGetResultString(_r, &_s);                                            \
            fprintf(stderr, "[cupti-trace] %s failed: %s\n", #call, _s ? _s : "?");  \
        }                                                                             \
    } while (0)

static int name_index(const char * name) {
    if (name == nullptr) {
        name = "?";
    }
    auto it = g_name_ptr.find(name);
    if (it != g_name_ptr.end()) {
        return it->second;
    }
    std::string s(name);
    auto jt = g_name_str.find(s);
    int idx;
    if (jt != g_name_str.end()) {
        idx = jt->second;
    } else {
        idx = (int) g_names.size();
        g_names.push_back(s);
        g_name_str[s] = idx;
    }
    g_name_ptr[name] = idx;
    return idx;
}

static void CUPTIAPI buffer_requested(uint8_t ** buffer, size_t * size, size_t * max_records) {
    const size_t sz = 16u << 20;
    *buffer = (uint8_t *) aligned_alloc(8, sz);
    *size = sz;
    *max_records = 0;
}

static void CUPTIAPI buffer_completed(CUcontext, uint32_t, uint8_t * buffer, size_t, size_t valid_size) {
    std::lock_guard<std::mutex> lock(g_mu);
    CUpti_Activity * rec = nullptr;
    while (cuptiActivityGetNextRecord(buffer, valid_size, &rec) == CUPTI_SUCCESS) {
        if (g_out == nullptr) {
            continue;
        }
        switch (rec->kind) {
            case CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL:
            case CUPTI_ACTIVITY_KIND_KERNEL: {
                auto * k = (CUpti_ActivityKernel10 *) rec;
                fprintf(g_out, "K,%llu,%llu,%u,%u,%u,%d,%lld,%d\n", (unsigned long long) k->start,
                        (unsigned long long) k->end, k->streamId, k->graphId, k->correlationId, name_index(k->name),
                        (long long) k->gridX * k->gridY * k->gridZ, k->blockX * k->blockY * k->blockZ);
            } break;
            case CUPTI_ACTIVITY_KIND_RUNTIME:
            case CUPTI_ACTIVITY_KIND_DRIVER: {
                auto * a = (CUpti_ActivityAPI *) rec;
                fprintf(g_out, "%c,%u,%llu,%llu,%u,%u\n", rec->kind == CUPTI_ACTIVITY_KIND_RUNTIME ? 'R' : 'D',
                        (unsigned) a->cbid, (unsigned long long) a->start, (unsigned long long) a->end, a->threadId,
                        a->correlationId);
            } break;
            case CUPTI_ACTIVITY_KIND_MEMCPY: {
                auto * m = (CUpti_ActivityMemcpy6 *) rec;
                fprintf(g_out, "M,%u,%llu,%llu,%llu,%u,%u,%u\n", (unsigned) m->copyKind, (unsigned long long) m->bytes,
                        (unsigned long long) m->start, (unsigned long long) m->end, m->streamId, m->graphId,
                        m->correlationId);
            } break;
            case CUPTI_ACTIVITY_KIND_MEMSET: {
                auto * m = (CUpti_ActivityMemset4 *) rec;
                fprintf(g_out, "S,%llu,%llu,%llu,%u,%u\n", (unsigned long long) m->bytes,
                        (unsigned long long) m->start, (unsigned long long) m->end, m->streamId, m->graphId);
            } break;
            default:
                break;
        }
    }
    size_t dropped = 0;
    cuptiActivityGetNumDroppedRecords(nullptr, 0, &dropped);
    g_dropped += dropped;
    free(buffer);
}

static void at_exit() {
    cuptiActivityFlushAll(1);
    std::lock_guard<std::mutex> lock(g_mu);
    if (g_out != nullptr) {
        for (size_t i = 0; i < g_names.size(); ++i) {
            fprintf(g_out, "N,%zu,%s\n", i, g_names[i].c_str());
        }
        fprintf(g_out, "X,dropped,%llu\n", (unsigned long long) g_dropped.load());
        fclose(g_out);
        g_out = nullptr;
    }
    fprintf(stderr, "[cupti-trace] done, %zu kernel names, %llu dropped\n", g_names.size(),
            (unsigned long long) g_dropped.load());
}

extern "C" int InitializeInjection(void) {
    static bool done = false;
    if (done) {
        return 1;
    }
    done = true;
    const char * path = getenv("CUPTI_TRACE_OUT");
    g_out = fopen(path ? path : "cupti-trace.csv", "w");
    if (g_out == nullptr) {
        fprintf(stderr, "[cupti-trace] cannot open the output\n");
        return 0;
    }
    static char iobuf[1 << 20];
    setvbuf(g_out, iobuf, _IOFBF, sizeof(iobuf));
    CK(cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed));
    CK(cuptiActivityEnable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL));
    CK(cuptiActivityEnable(CUPTI_ACTIVITY_KIND_RUNTIME));
    CK(cuptiActivityEnable(CUPTI_ACTIVITY_KIND_MEMCPY));
    CK(cuptiActivityEnable(CUPTI_ACTIVITY_KIND_MEMSET));
    atexit(at_exit);
    fprintf(stderr, "[cupti-trace] tracing to %s\n", path ? path : "cupti-trace.csv");
    return 1;
}
